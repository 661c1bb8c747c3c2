"""pytest set-up shared by the unit tests and by nbval.

nbval starts each notebook's kernel with this process's environment, so setting the
kernel environment here makes the tests run notebooks exactly as they were recorded.
"""

from tools.notebooks import apply_kernel_env

apply_kernel_env()

# Notebook sources are jupytext text files, not modules: never import them as tests
# (--doctest-modules would), only their stored .ipynb (with --nbval).
collect_ignore_glob = ["chapters/*.py", "exercises/*.py", "exercises/solutions/*.py"]
