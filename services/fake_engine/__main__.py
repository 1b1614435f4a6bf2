"""`python -m services.fake_engine --config JSON [--host H] [--port P]`: the child-process form.

People use `tollgate bench fake-upstream`; this entry point is what `FakeEngineProcess` starts,
with the whole `FakeEngineConfig` as JSON so no option is lost on the way.
"""

from __future__ import annotations

import argparse

from services.fake_engine.server import config_from_json, serve


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.fake_engine")
    parser.add_argument("--config", default="{}", help="FakeEngineConfig as JSON")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    serve(config_from_json(args.config), args.host, args.port)


if __name__ == "__main__":
    main()
