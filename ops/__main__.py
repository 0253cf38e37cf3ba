"""``python -m ops <command>``: the operations behind the Makefile.

Commands:
  run         prepare and run the whole stack in the foreground (``make run``)
  pki DIR     create or refresh the development PKI in DIR
  proto       regenerate gen/ from protos/ (``make proto``)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ops.pki import ensure_pki
from ops.stack import run


def main(argv: list[str]) -> int:
    if argv[:1] == ["run"]:
        return run(os.environ)
    if argv[:1] == ["pki"] and len(argv) == 2:
        for name, files in ensure_pki(Path(argv[1])).items():
            print(f"{name}: {files.cert_file}")
        return 0
    if argv[:1] == ["proto"]:
        from ops.protogen import GEN_ROOT, generate

        for proto in generate(GEN_ROOT):
            print(f"generated {proto.name}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
