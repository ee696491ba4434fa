"""Fast tests of the pure parts: no process, no socket, no sleep."""
