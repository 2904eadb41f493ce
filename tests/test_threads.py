"""The thread policy: set before torch starts, never over a user's choice, and without effect on the
numbers (it changes how idle threads wait, not the arithmetic)."""
import json
import os
import subprocess
import sys
from pathlib import Path

from quake_lib import threads

TESTS = Path(__file__).parent


def test_apply_sets_the_policy_unless_the_user_chose():
    env = {}
    assert threads.apply(env) == threads.POLICY and env == threads.POLICY
    mine = {key: "12345" for key in threads.POLICY}
    assert threads.apply(mine) == {} and set(mine.values()) == {"12345"}
    off = {threads.OPT_OUT_ENV: "off"}
    assert threads.apply(off) == {} and off == {threads.OPT_OUT_ENV: "off"}


# a tiny training in a fresh process (the wait policy is read once, when OpenMP starts)
TRAIN = """
import json, sys, os
sys.path.insert(0, {tests!r})
import quake_lib
import torch
from tiny_data import ONE_EPOCH, TINY, loud_recording
from quake_lib import evaluation as ev
from quake_lib.train import cross_validate
rec = loud_recording({data!r})
w = ev.eval_windows(rec, stride=4096, length=4096)
res = cross_validate(rec, TINY, "regression", ev.make_folds(rec, n_folds=2, windows=w), seed=0,
                     eval_windows=w, save=False, verbose=False, **{{**ONE_EPOCH, "threads": 2}})
print(json.dumps({{"policy": {{k: os.environ.get(k) for k in {keys!r}}}, "pred": res.oof["prediction"].tolist()}}))
"""


def test_results_do_not_depend_on_the_wait_policy(tmp_path):
    out = {}
    for name, extra in (("chosen", {}), ("openmp_default", {threads.OPT_OUT_ENV: "off"})):
        env = {k: v for k, v in os.environ.items() if k not in (*threads.POLICY, threads.OPT_OUT_ENV)}
        env.update(extra, QUAKE_DATA_DIR=str(tmp_path / name))
        code = TRAIN.format(tests=str(TESTS), data=str(tmp_path / name / "tiny"), keys=list(threads.POLICY))
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
        out[name] = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["chosen"]["policy"] == threads.POLICY
    assert set(out["openmp_default"]["policy"].values()) == {None}
    assert out["chosen"]["pred"] == out["openmp_default"]["pred"]   # bit for bit
