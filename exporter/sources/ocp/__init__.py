"""OCP: the clusters one OCP server manages, over its API v2.

Empty on purpose: importing a model (as the simulator does) loads no source; `build` is in
`build.py`.
"""
