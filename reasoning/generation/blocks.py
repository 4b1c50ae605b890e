"""Which KV-cache blocks are free and how many sequences read each one, kept on the host.

The scheduler hands out blocks one at a time as sequences grow and shares a prompt's full
blocks among its samples by reference; a block returns to the free list when its last reader
lets it go. Plain Python (no torch import): the decisions never wait on the device, and the
scheduler's tests run without it.
"""

from __future__ import annotations


class BlockAllocator:
    """Free blocks 1 .. num_blocks - 1 with reference counts; block 0 is never handed out, it is
    the pool's sink (`reasoning.model.paged.SINK_BLOCK`) that rows past their length point at."""

    def __init__(self, num_blocks: int) -> None:
        self.num_blocks = num_blocks
        self._free = list(range(num_blocks - 1, 0, -1))  # taken from the end: 1, 2, 3, ...
        self._readers = [0] * num_blocks

    @property
    def free(self) -> int:
        return len(self._free)

    @property
    def used(self) -> int:
        return self.num_blocks - 1 - len(self._free)

    def take(self) -> int:
        """A free block, now read by one sequence."""
        if not self._free:
            raise RuntimeError("no free KV-cache block")
        block = self._free.pop()
        self._readers[block] = 1
        return block

    def share(self, blocks: list[int]) -> None:
        """One more sequence reads each of `blocks`."""
        for block in blocks:
            self._readers[block] += 1

    def release(self, blocks: list[int]) -> None:
        """A sequence stops reading `blocks`; those nobody reads any more are free again."""
        for block in blocks:
            self._readers[block] -= 1
            if self._readers[block] == 0:
                self._free.append(block)
            elif self._readers[block] < 0:
                raise RuntimeError(f"KV-cache block {block} released more often than taken")
