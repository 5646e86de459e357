"""Compare the baseline with a scenario built in code, for the five headline targets.

The custom scenario is the baseline plus real GDP growth 1 point higher in 2024-2025 and strategic
emerging industries (SEI) growing 30% a year; both share one cached posterior. Writes a bar chart.

Notes
-----
Run from the repository root (it fits the model on first use, then reuses the cache)::

    python examples/custom_scenario.py [OUT.png] [--draws N] [--fit-draws N]

``--draws``: simulated paths; ``--fit-draws``: the fit's posterior draws and tuning steps (for tests).
"""
import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import model

HEADLINE = ["p14_gdp", "p14_gdp_growth", "p14_sei_share_gdp", "p14_urbanization_rate",
            "p14_mfg_share_industry_above_scale"]


def scenarios(draws=None, fit_draws=None, fit_seed=None):
    """The baseline (from its YAML) and the custom scenario (built in code)."""
    base = model.load_scenario(Path(__file__).resolve().parents[1] / "scenarios/baseline.yaml").model_dump()
    base["draws"] = draws or base["draws"]
    base["fit"].update({"draws": fit_draws, "tune": fit_draws} if fit_draws else {})
    base["fit"].update({"seed": fit_seed} if fit_seed is not None else {})
    push = [model.Assumption(indicator="gdp", kind="growth_shift", value=1.0, years=[2024, 2025], why="+1 point"),
            model.Assumption(indicator="sei_va", kind="growth_set", value=30.0, sd=5.0, years=[2024, 2025],
                             why="SEI keeps its 2023 pace (+33.4%)")]
    custom = model.Scenario(**{**base, "name": "custom", "description": "GDP +1 pt, SEI 30%", "assumptions": push})
    return model.Scenario(**base), custom


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=Path("results/example_comparison.png"))
    ap.add_argument("--draws", type=int, help="simulated paths per scenario")
    ap.add_argument("--fit-draws", type=int, help="posterior draws and tuning steps of the fit")
    ap.add_argument("--fit-seed", type=int, help="seed of the fit (tests reuse a cached one)")
    args = ap.parse_args()
    ds = model.load_data()
    probs = {s.name: model.run_scenario(s, ds).attainment.set_index("target_id")["p_attained"].reindex(HEADLINE)
             for s in scenarios(args.draws, args.fit_draws, args.fit_seed)}
    fig = Figure(figsize=(8, 4), layout="tight")
    ax = fig.subplots()
    for k, (name, p) in enumerate(probs.items()):
        ax.bar(np.arange(len(HEADLINE)) + (k - 0.5) * 0.4, p.fillna(0), 0.4, label=name)
    ax.set_xticks(np.arange(len(HEADLINE)), [t.removeprefix("p14_") for t in HEADLINE], rotation=20, ha="right")
    ax.set(ylim=(0, 1), ylabel="P(attained)", title="14th-plan headline targets")
    ax.legend()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=150)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
