"""The simulated OceanBase Cloud OpenAPI: digest auth, and what it shows of the world."""
