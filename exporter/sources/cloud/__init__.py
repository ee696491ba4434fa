"""OceanBase Cloud: the instances of one account (and project), over the OpenAPI v2.

Empty on purpose: importing a model (as the simulator does) loads no source; `build` is in
`build.py`.
"""
