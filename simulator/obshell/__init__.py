"""The simulated obshell agents: their HTTP API, auth, errors, keys and versions."""
