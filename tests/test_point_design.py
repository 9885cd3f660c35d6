"""A sweep over a point design: cells are listed points instead of a product grid.

What the design promises: a point's cell equals, bit for bit, the grid sweep's cell with
the same values (same replicate streams, same warm-up rule); the dataset names the dim
``point`` and carries each key's value by point; it loads back with its provenance; a
resume with another design is refused, one with the same design finishes it bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from sweep_helpers import CHURN_SWEEP, interrupt_after, tiny_plan

from splitsim.results import store
from splitsim.results.run_folder import (
    ResumeRefused,
    SweepInterrupted,
    run_sweep,
    simulate_sweep,
)
from splitsim.sweep.executors import InProcessExecutor
from splitsim.sweep.plan import POINT, PlanError, PointDesign, plan_points

CHURN = "customers.churn_hazard.rate"
MARGIN = "economics.gross_margin"


def design(rows=((2.7, 0.45), (5.4, 0.45), (5.4, 0.3)), seed_note=1) -> PointDesign:
    return PointDesign(
        keys=(CHURN, MARGIN),
        values=tuple(rows),
        roles=tuple("test" for _ in rows),
        record={"method": "listed", "note": seed_note},
    )


@pytest.fixture(scope="module")
def plan():
    return plan_points(tiny_plan(replicates=4, warm=True), design())


def test_a_point_plan_has_one_cell_per_point_in_a_point_dim(plan):
    assert plan.swept == {POINT: [0, 1, 2]}
    assert plan.cell_shape == (3,) and plan.n_cells == 3
    assert plan.cells()[2] == ((2,), {CHURN: 5.4, MARGIN: 0.3})
    # only non-decision keys rerun the warm-up, as in a grid sweep
    assert plan.warmup_scenario({CHURN: 5.4}).customers.churn_hazard.rate == 5.4


def test_each_point_equals_the_grid_cell_with_the_same_values_bit_for_bit(plan):
    points = simulate_sweep(plan, executor=InProcessExecutor())
    grid = simulate_sweep(
        tiny_plan(replicates=4, warm=True, sweeps=[CHURN_SWEEP]), executor=InProcessExecutor()
    )
    assert points["decision_metric"].dims == (POINT, "split", "replicate")
    np.testing.assert_array_equal(points[CHURN].values, [2.7, 5.4, 5.4])
    assert list(points["point_role"].values) == ["test"] * 3
    for point, rate in ((0, 2.7), (1, 5.4)):
        for name in ("decision_metric", "repeat_revenue", "alive"):
            np.testing.assert_array_equal(
                points[name].isel(point=point).values, grid[name].sel({CHURN: rate}).values
            )
    # the margin changes the money, not the customers: same streams, same people
    np.testing.assert_array_equal(
        points["alive"].isel(point=2).values, points["alive"].isel(point=1).values
    )
    assert not np.array_equal(
        points["decision_metric"].isel(point=2).values,
        points["decision_metric"].isel(point=1).values,
    )


def test_a_point_run_loads_back_and_resumes_bit_for_bit(plan, tmp_path):
    reference = simulate_sweep(plan, executor=InProcessExecutor())
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(
            plan,
            out=tmp_path,
            executor=InProcessExecutor(),
            progress=interrupt_after(2),
            block_size=2,
        )
    assert "splitsim sensitivity" in stop.value.message
    run_dir = stop.value.run_dir
    assert (run_dir / store.DESIGN_FILE).is_file()

    other = plan_points(tiny_plan(replicates=4, warm=True), design(seed_note=2))
    with pytest.raises(ResumeRefused, match="another point design"):
        run_sweep(other, resume=run_dir, executor=InProcessExecutor())

    resumed = run_sweep(plan, resume=run_dir, executor=InProcessExecutor())
    loaded = store.load_results(run_dir)
    for name in ("decision_metric", "repeat_revenue", CHURN):
        np.testing.assert_array_equal(loaded[name].values, reference[name].values)
        np.testing.assert_array_equal(resumed.dataset[name].values, reference[name].values)


def test_a_point_design_cannot_be_mixed_with_a_grid_or_change_the_months():
    with pytest.raises(PlanError, match="cannot be combined with swept keys"):
        plan_points(tiny_plan(sweeps=[CHURN_SWEEP]), design())
    with pytest.raises(PlanError, match="month dimension"):
        plan_points(
            tiny_plan(),
            PointDesign(("horizon_months",), ((3.0,),), ("test",), {}),
        )
    with pytest.raises(PlanError, match="finite"):
        PointDesign((CHURN,), ((float("nan"),),), ("test",), {})
    with pytest.raises(PlanError, match="one role per point"):
        PointDesign((CHURN,), ((1.0,),), (), {})
