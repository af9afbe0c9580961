"""TS 32.583 procedure flows as data, and the matcher that checks a run against them.

    from lab.flows import FLOWS, Observation, match, suggest_binding
    obs = Observation(read_run_events(run_dir), topo)
    result = match(FLOWS["5.1.1"], suggest_binding(topo), obs, start=t0)
    result.verdict, [(v.step.id, v.status) for v in result.steps]
"""

from lab.flows.binding import BindingError, check_binding, facts, suggest_binding
from lab.flows.matcher import FlowResult, StepVerdict, Unexpected, match, overall
from lab.flows.model import LANES, Flow, Step
from lab.flows.observed import Message, Observation
from lab.flows.ts32583 import FLOWS, flow, flows_for

__all__ = ["FLOWS", "LANES", "BindingError", "Flow", "FlowResult", "Message", "Observation",
           "Step", "StepVerdict", "Unexpected", "check_binding", "facts", "flow", "flows_for",
           "match", "overall", "suggest_binding"]
