"""nbgrader settings for the workbook's labs (see docs/instructors.md).

A course folder made by `make assignment LAB=NN_x` (`python -m labkit.workspace course`)
has its own nbgrader_config.py that loads this file; nbgrader reads that one from the
course folder, the working directory of every `nbgrader ...` command. Put settings for one
course (students, exchange, course id) in the course folder's file, below the line that
loads this one.

The kernels nbgrader starts inherit the environment: set LABKIT_DATA_DIR (the offline data
folder) and LABKIT_PROFILE (the profile the students ran, default `standard`) for
`nbgrader autograde`; the Makefile's instructor targets pass PROFILE on as LABKIT_PROFILE.
"""
import os

c = get_config()  # noqa: F821 - traitlets defines it when it loads this file

# A course id and an exchange folder are needed only by release_assignment / fetch / submit /
# collect (the exchange route); a course that hands out release/ and gathers submissions into
# submitted/<student>/<assignment>/ itself needs neither.
c.CourseDirectory.course_id = os.environ.get("NBGRADER_COURSE_ID", "nn-in-practice")
if os.environ.get("NBGRADER_EXCHANGE"):
    c.Exchange.root = os.environ["NBGRADER_EXCHANGE"]

# Training cells run for minutes in the standard profile (at most about 10 minutes a notebook,
# every notebook under nbval gets 1800 s a cell); nbgrader's default is 30 s a cell, after which
# the cell is interrupted and graded as an error. `Execute` is nbgrader's subclass of nbconvert's
# ExecutePreprocessor and keeps its own default, so both are set.
CELL_TIMEOUT = int(os.environ.get("LABKIT_CELL_TIMEOUT", "1800"))
c.Execute.timeout = CELL_TIMEOUT
c.ExecutePreprocessor.timeout = CELL_TIMEOUT
c.Execute.startup_timeout = 120  # a kernel that imports TensorFlow takes ~8 s to be ready; slow disks more

# The solution notebooks already carry the nbgrader metadata (`python -m labkit.nbtools clean`
# derives it): every `### BEGIN SOLUTION` cell is a solution cell, the check cell after it a
# locked, graded test cell. nbgrader's default code stub ("# YOUR CODE HERE" and
# `raise NotImplementedError()`) is kept: inside a function it is the workbook's own
# placeholder; at top level the cell raises after its `answer = None` line, and the check
# that follows reports "no answer yet" with its hint, so it still scores 0.
c.ClearSolutions.enforce_metadata = True

# labkit's tools keep a manifest of what they wrote beside the source notebook (so they never
# overwrite an instructor's edits); it is not part of the assignment.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".labkit-outputs.json"]
