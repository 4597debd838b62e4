#!/usr/bin/env python3
"""Parse Prometheus text (stdin) with prometheus_client's own parser; print the samples as JSON:
{"families": {name: type}, "samples": [[name, labels, value], ...]}. A malformed exposition
raises, so the test fails on anything the official parser refuses."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

families, samples = {}, []
for fam in text_string_to_metric_families(sys.stdin.read()):
    families[fam.name] = fam.type
    for s in fam.samples:
        v = s.value
        samples.append([s.name, s.labels, "+Inf" if math.isinf(v) else v])
print(json.dumps({"families": families, "samples": samples}))
