"""The Panel dashboard of the SSM Workbench.

In a source checkout this folder is the package `apps`; installed (a wheel), the same files are the
package `workbench_dashboard`, which is why its modules import each other relatively. `dashboard.py`
is the script `panel serve` runs; `app.py` builds a session's page; `views/` holds the Viewers;
`compat.py` every patch of the HoloViz stack. Never imported by `import workbench`.
"""
