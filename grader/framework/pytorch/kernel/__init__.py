"""What runs in a PyTorch notebook's kernel (imported there by the cells of
:mod:`grader.framework.pytorch.kernel.cells`): the runtime that serves the data, caps and records
the loops, and takes the rubric's models; also imported by the grader to calibrate the
reference under the same caps. Nothing here imports PyTorch until it is used."""
