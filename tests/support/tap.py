"""A minimal TAP writer for the Python test scripts: meson runs them with protocol 'tap', so
each check is one test case in meson's report and in tools/test_summary.py's count."""
import sys
import traceback


class Tap:
    def __init__(self) -> None:
        self.count = 0
        self.failed = 0

    def check(self, name: str, fn) -> bool:
        """Runs fn(); an exception (AssertionError or any other) is a failure. Returns ok."""
        self.count += 1
        try:
            fn()
        except Exception as e:  # report it and go on with the next check
            self.failed += 1
            print(f"not ok {self.count} - {name}")
            for line in (f"{type(e).__name__}: {e}\n" + traceback.format_exc()).splitlines():
                print(f"# {line}")
            sys.stdout.flush()
            return False
        print(f"ok {self.count} - {name}", flush=True)
        return True

    def skip(self, name: str, why: str) -> None:
        self.count += 1
        print(f"ok {self.count} - {name} # SKIP {why}", flush=True)

    def finish(self) -> int:
        print(f"1..{self.count}", flush=True)
        return 1 if self.failed else 0
