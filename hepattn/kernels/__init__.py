"""Compute kernels with a readable torch reference beside each fast path."""
