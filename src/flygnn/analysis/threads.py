"""One thread count for the analysis, so the same inputs give the same bits on any machine.

A sum split across threads is added in another order, and so rounds differently, on
another number of threads: OpenBLAS splits a long dot product, MKL may split a
matrix product. `flygnn analyze` run by hand gets every core; run by `flygnn report`
it gets the one thread Snakemake grants (OMP_NUM_THREADS=1). Steps whose numbers
are written to metrics.json or cached for them therefore run on a fixed number of
threads, whatever the machine offers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# One: also the fastest for these steps on a shared 2-core machine (the gauge fit of
# the extent-8 model took 11 s on one thread and 21 s on two beside a training run).
ANALYSIS_THREADS = 1


@contextlib.contextmanager
def fixed_threads(threads: int = ANALYSIS_THREADS) -> Iterator[None]:
    """Run the block with ``threads`` torch threads and ``threads`` BLAS/OpenMP threads; restore both after."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)
