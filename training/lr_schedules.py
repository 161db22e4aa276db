"""A one-cycle / cosine learning-rate schedule whose length can be re-planned mid-run.

With a wall-clock budget (``[train] max_minutes``) the number of epochs that fit is only known
once epochs have been timed. Cutting a fixed OneCycle short would stop at a high learning rate,
so the run re-plans the schedule's length after every epoch and the rate still anneals to its
floor in the last epoch that fits. Without a budget it is exactly a fixed-length schedule.
"""

from __future__ import annotations

import math
from typing import Any

import torch


class PlannedOneCycle:
    """Linear warm-up for ``pct_start`` of the steps, then cosine decay to max_lr/final_div.

    ``pct_start = 0`` gives plain cosine annealing. Call ``step()`` after each optimiser step.
    """

    def __init__(
        self,
        opt: torch.optim.Optimizer,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.15,
        div: float = 25.0,
        final_div: float = 1e4,
    ) -> None:
        self.opt = opt
        self.max_lr, self.pct_start = max_lr, pct_start
        self.initial_lr, self.final_lr = max_lr / div, max_lr / final_div
        self.total_steps, self.step_count = max(1, total_steps), 0
        self.apply()

    def lr_at(self, step: int) -> float:
        progress = min(1.0, step / self.total_steps)
        if progress < self.pct_start:
            return self.initial_lr + (self.max_lr - self.initial_lr) * progress / self.pct_start
        q = (progress - self.pct_start) / max(1e-12, 1.0 - self.pct_start)
        return self.final_lr + (self.max_lr - self.final_lr) * (1 + math.cos(math.pi * q)) / 2

    def apply(self) -> None:
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step_count)

    def step(self) -> None:
        self.step_count += 1
        self.apply()

    def replan(self, total_steps: int) -> None:
        """Change the schedule's length (never below the steps already taken)."""
        self.total_steps = max(self.step_count + 1, total_steps)

    def shorten(self, total_steps: int) -> None:
        """Re-plan to ``total_steps`` only if that is shorter: a budgeted run calls this after
        every epoch, and a slow epoch (a paused or busy CPU) followed by a quick one must not
        lengthen the schedule again, which would make a decaying rate jump back up (seen on
        2026-12-04: 1.4e-4 -> 4.8e-4 in resnet-v2-cycle-3)."""
        self.replan(min(self.total_steps, total_steps))

    def state_dict(self) -> dict[str, Any]:
        return {"total_steps": self.total_steps, "step_count": self.step_count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total_steps, self.step_count = state["total_steps"], state["step_count"]
        self.apply()


def plan_epochs(cap: int, done: int, elapsed_s: float, epoch_s: float, budget_s: float) -> int:
    """How many epochs in total fit: ``done`` plus those of ``epoch_s`` left in the budget."""
    if budget_s <= 0:
        return cap
    fit = int((budget_s - elapsed_s) // max(epoch_s, 1e-9))
    return max(done, min(cap, done + fit))
