#!/usr/bin/env python3
"""Renders the templates of benches/render/ with Jinja2, as benches/render_vs_jinja2.rs does
with drumbeat, and prints one JSON object: per case, nanoseconds per render (best of five
rounds) and the text rendered, so the bench can check the outputs are byte-identical.

    python3 benches/render_jinja2.py benches/render 20000
"""
import json, pathlib, sys, time
import jinja2

def main():
    folder, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    out = {}
    for path in sorted(folder.glob("*.j2")):
        template = env.from_string(path.read_text(encoding="utf-8"))
        context = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        text = template.render(context)
        best = None
        for _ in range(5):
            started = time.perf_counter_ns()
            for _ in range(n):
                template.render(context)
            took = (time.perf_counter_ns() - started) / n
            best = took if best is None else min(best, took)
        out[path.stem] = {"ns": best, "text": text}
    json.dump(out, sys.stdout, ensure_ascii=False)

if __name__ == "__main__":
    main()
