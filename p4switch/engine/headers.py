"""Whole-header operations on a packet's F/V/N: validity with union semantics,
header/union/stack copies, and P4_16 stack push/pop (bm_sim headers.cpp,
header_unions.cpp, stacks.cpp ``StackP4_16``).

Generated code inlines the static, common cases (``setValid`` of a plain
header); these functions cover the rest: stack elements chosen at run time,
unions, whole-stack assignment.
"""

from __future__ import annotations

from .layout import Layout


class HeaderOps:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        h = layout.headers
        self.base = [x.base for x in h]
        self.nslots = [x.nslots for x in h]
        # the other members of a header's union, invalidated when it becomes valid
        self.siblings: list[tuple[int, ...]] = []
        for x in h:
            if x.union is None:
                self.siblings.append(())
            else:
                members = layout.union_list[x.union].headers
                self.siblings.append(tuple(m for m in members if m != x.id))
        self.stack_elements: dict[int, tuple[int, ...]] = {}
        self.union_stack: dict[int, bool] = {}
        for s in list(layout.stacks.values()) + list(layout.union_stacks.values()):
            self.stack_elements[s.index] = tuple(s.elements)
            self.union_stack[s.index] = s.is_union_stack

    # --- validity ----------------------------------------------------------------
    def mark_valid(self, V: list[int], h: int) -> None:
        V[h] = 1
        for o in self.siblings[h]:
            V[o] = 0

    def copy_header(self, F: list[int], V: list[int], dst: int, src: int) -> None:
        """assign_header: dst takes src's validity and, if valid, its fields."""
        if not V[src]:
            V[dst] = 0
            return
        self.mark_valid(V, dst)
        b, s, n = self.base[dst], self.base[src], self.nslots[dst]
        F[b : b + n] = F[s : s + n]

    def copy_union(self, F: list[int], V: list[int], dst: int, src: int) -> None:
        lay = self.layout
        for d, s in zip(lay.union_list[dst].headers, lay.union_list[src].headers, strict=False):
            self.copy_header(F, V, d, s)

    def copy_stack(self, F: list[int], V: list[int], N: list[int], dst: int, src: int) -> None:
        N[dst] = N[src]
        for d, s in zip(self.stack_elements[dst], self.stack_elements[src], strict=False):
            if self.union_stack[dst]:
                self.copy_union(F, V, d, s)
            else:
                self.copy_header(F, V, d, s)

    # --- stacks --------------------------------------------------------------------
    def _headers_of(self, stack: int, i: int) -> tuple[int, ...]:
        e = self.stack_elements[stack][i]
        if self.union_stack[stack]:
            return tuple(self.layout.union_list[e].headers)
        return (e,)

    def _swap(self, F: list[int], V: list[int], stack: int, i: int, j: int) -> None:
        for a, b in zip(self._headers_of(stack, i), self._headers_of(stack, j), strict=False):
            ba, bb, n = self.base[a], self.base[b], self.nslots[a]
            F[ba : ba + n], F[bb : bb + n] = F[bb : bb + n], F[ba : ba + n]
            V[a], V[b] = V[b], V[a]

    def _invalidate(self, V: list[int], stack: int, i: int) -> None:
        for h in self._headers_of(stack, i):
            V[h] = 0

    def push_front(self, F: list[int], V: list[int], N: list[int], stack: int, num: int) -> None:
        size = len(self.stack_elements[stack])
        if num <= 0:
            return
        N[stack] = min(size, N[stack] + num)
        for i in range(size - 1, num - 1, -1):
            self._swap(F, V, stack, i, i - num)
        for i in range(min(size, num)):
            self._invalidate(V, stack, i)

    def pop_front(self, F: list[int], V: list[int], N: list[int], stack: int, num: int) -> None:
        size = len(self.stack_elements[stack])
        if num <= 0:
            return
        N[stack] -= min(N[stack], num)
        i = 0
        if num < size:
            while i < size - num:
                self._swap(F, V, stack, i, i + num)
                i += 1
        while i < size:
            self._invalidate(V, stack, i)
            i += 1
