"""obshell: one cluster's agents, with obshell's password auth.

Empty on purpose: importing a model (as the simulator does) loads no source; `build` is in
`build.py`.
"""
