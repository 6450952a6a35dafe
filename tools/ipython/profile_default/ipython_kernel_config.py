# Kernel settings for the workbook (IPYTHONDIR points here from the Makefile).
# TensorFlow's C++ runtime writes a notice straight to file descriptor 2 at import;
# with fd capture on, the kernel copies it into the notebook as a stderr output.
# Keep C-level output in the kernel's own log instead of in the notebook.
c.IPKernelApp.capture_fd_output = False  # noqa: F821
c.InlineBackend.figure_formats = {"png"}  # noqa: F821
