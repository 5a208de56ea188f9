"""The CPU threads torch's intra-op pool uses in this process (apps set it without importing torch)."""
from __future__ import annotations


def use_threads(n: int) -> None:
    """torch.set_num_threads(n), with a clear error for a count below one."""
    if not isinstance(n, int) or n < 1:
        from workbench.errors import SpecError
        raise SpecError("threads", n, "an integer >= 1")
    import torch
    torch.set_num_threads(n)
