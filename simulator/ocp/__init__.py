"""The simulated OCP: its HTTP API (v2), auth, and what it shows of the world."""
