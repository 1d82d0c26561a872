"""The browser test's notebook is run by JupyterLab in test_jupyterlab.py, never collected by nbval itself."""

collect_ignore_glob = ["*.ipynb"]
