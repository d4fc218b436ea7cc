#!/usr/bin/env python3
"""Uses coil from outside its repository, as a new user would; output is TAP (run by meson in
./dev test, suite 'consumer').

1. Builds coil's libraries and echo_server at -Dbuildtype=release (-O3) with -Werror: GCC 12's
   -O3 warnings must not break anyone's release build.
2. Installs into a private prefix; checks nothing installed exposes liburing, epoll or the
   private backend/ folder.
3. Compiles every installed header alone in its own translation unit, in C++20 and in C++23,
   with -Wall -Wextra -Wpedantic -Werror: each header is self-contained and warning-clean.
4. Builds examples/consumer (a project of its own) against the installed coil via pkg-config,
   with meson at -Dbuildtype=release and with one g++ command line; runs it.
5. Builds examples/consumer with coil as a meson subproject (subprojects/coil is a symlink to this
   checkout, so nothing is fetched), at -Dbuildtype=release; checks coil's tests, benchmarks and
   programs were not built and that installing the parent installs nothing of coil; runs it.
6. Runs the consumer's own meson test, which runs coil's coawait_lint.py (found through the
   dependency's 'coawait_lint' variable) on the consumer's sources, in both setups.

Usage: consumer_check.py SOURCE_ROOT WORK_DIR
WORK_DIR is kept between runs (incremental builds); delete it to start afresh. Offline.
"""
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from tap import Tap  # noqa: E402

SOURCE = Path(sys.argv[1]).resolve()
WORK = Path(sys.argv[2]).resolve()
JOBS = str(os.cpu_count() or 2)
CONSUMER = SOURCE / "examples" / "consumer"
PREFIX = WORK / "prefix"
START = time.monotonic()


def sh(*cmd, env=None, cwd=None, timeout=900) -> str:
    """Runs cmd; returns its output; raises with the output's tail if it fails."""
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=timeout)
    if r.returncode != 0:
        tail = (r.stdout + r.stderr)[-4000:]
        raise AssertionError(f"exit {r.returncode}: {' '.join(map(str, cmd))}\n{tail}")
    return r.stdout + r.stderr


def meson_setup(build: Path, source: Path, *options: str, env=None) -> None:
    if (build / "build.ninja").exists():
        sh("meson", "configure", build, *options, env=env)
    else:
        sh("meson", "setup", build, source, *options, env=env)


def pkg_config_env() -> dict:
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = ":".join(str(p.parent) for p in PREFIX.rglob("coil.pc"))
    return env


def copy_consumer(dest: Path, with_subprojects: bool) -> None:
    # copy2 keeps mtimes, so an unchanged consumer is not rebuilt on the next run.
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("meson.build", "hello_coil.cpp"):
        shutil.copy2(CONSUMER / f, dest / f)
    if with_subprojects:
        (dest / "subprojects").mkdir(exist_ok=True)
        shutil.copy2(CONSUMER / "subprojects" / "coil.wrap", dest / "subprojects" / "coil.wrap")
        link = dest / "subprojects" / "coil"
        if not link.is_symlink():
            link.symlink_to(SOURCE, target_is_directory=True)


def build_o3():
    build = WORK / "coil-o3"
    meson_setup(build, SOURCE, "-Dbuildtype=release", "-Dwerror=true", "-Dtests=false",
                "-Dbenchmarks=false", f"--prefix={PREFIX}")
    out = sh("ninja", "-C", build, "-j", JOBS, "runtime/libcoil_runtime.a", "net/libcoil_net.a",
             "http/libcoil_http_parser.a", "http/libcoil_http.a", "apps/echo_server",
             "apps/http_server")
    assert "warning:" not in out, out[-3000:]
    commands = (build / "compile_commands.json").read_text()
    assert "-O3" in commands and "-Werror" in commands, "not an -O3 -Werror build"


def install():
    shutil.rmtree(PREFIX, ignore_errors=True)
    sh("meson", "install", "-C", WORK / "coil-o3", "--no-rebuild", "--quiet")
    headers = sorted((PREFIX / "include" / "coil").rglob("*.hpp"))
    assert len(headers) > 10, headers
    for h in headers:
        text = h.read_text()
        for banned in ("liburing", "sys/epoll.h", "coil/runtime/backend/"):
            assert banned not in text, f"{h} mentions {banned}"
    assert not (PREFIX / "include" / "coil" / "runtime" / "backend").exists()
    pc = next(PREFIX.rglob("coil.pc")).read_text()
    assert "-std=" not in pc, pc


def headers_compile_alone(std: str):
    def check():
        cflags = sh("pkg-config", "--cflags", "coil", env=pkg_config_env()).split()
        include = PREFIX / "include"
        headers = sorted(str(h.relative_to(include)) for h in (include / "coil").rglob("*.hpp"))
        tus = WORK / "header-tus" / std
        tus.mkdir(parents=True, exist_ok=True)

        def compile_one(header: str):
            tu = tus / (header.replace("/", "_") + ".cpp")
            tu.write_text(f"#include <{header}>\n#include <{header}>  // and its include guard\n")
            r = subprocess.run(["g++", f"-std={std}", "-fsyntax-only", "-Wall", "-Wextra",
                                "-Wpedantic", "-Werror", *cflags, str(tu)],
                               capture_output=True, text=True, timeout=300)
            return header, r.returncode, r.stderr

        with ThreadPoolExecutor(int(JOBS)) as pool:
            failed = [(h, err) for h, rc, err in pool.map(compile_one, headers) if rc != 0]
        assert not failed, "\n".join(f"{h}:\n{err[-1500:]}" for h, err in failed)
        print(f"# {len(headers)} headers compile alone in {std}")
    return check


def pkg_config_meson_build():
    build = WORK / "pc-consumer" / "build"
    copy_consumer(build.parent, with_subprojects=False)
    # nofallback: the installed coil must be found; no subproject may stand in for it.
    meson_setup(build, build.parent, "-Dbuildtype=release", "-Dwerror=true",
                "-Dwrap_mode=nofallback", env=pkg_config_env())
    sh("ninja", "-C", build, "-j", JOBS)


def pkg_config_gxx_build():
    out = WORK / "pc-consumer" / "hello_coil_gxx"
    flags = sh("pkg-config", "--cflags", "--libs", "coil", env=pkg_config_env()).split()
    sh("g++", "-std=c++20", "-O2", CONSUMER / "hello_coil.cpp", "-o", out, *flags)


def runs(program: Path):
    def check():
        r = subprocess.run([str(program)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        assert r.stdout.startswith("hello, coil (via "), r.stdout
        assert r.stderr == "", r.stderr  # quiet by default
    return check


def subproject_build():
    build = WORK / "sub-consumer" / "build"
    copy_consumer(build.parent, with_subprojects=True)
    meson_setup(build, build.parent, "-Dbuildtype=release", "--force-fallback-for=coil")
    sh("ninja", "-C", build, "-j", JOBS)
    sub = build / "subprojects" / "coil"
    assert (sub / "net" / "libcoil_net.a").exists(), "coil's libraries were not built"
    for absent in ("tests", "bench", "apps", "examples"):
        assert not (sub / absent).exists(), f"the subproject built its {absent}/"
    # Linked in statically: installing the parent installs nothing of coil.
    destdir = WORK / "sub-consumer" / "install"
    shutil.rmtree(destdir, ignore_errors=True)
    sh("meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", destdir)
    installed = [str(f) for f in destdir.rglob("*") if f.is_file()] if destdir.exists() else []
    assert not installed, f"installing the parent installed coil's files: {installed[:5]}"


def lint_runs_as_a_test(build: Path):
    def check():
        sh("meson", "test", "-C", build, "gcc12_coawait")
        log = (build / "meson-logs" / "testlog.txt").read_text()
        assert "coawait_lint: 0 finding(s)" in log, log[-2000:]
    return check


def main() -> int:
    tap = Tap()
    WORK.mkdir(parents=True, exist_ok=True)
    built = tap.check("coil's libraries and echo_server build at -O3 (buildtype=release) with -Werror",
                      build_o3)
    installed = built and tap.check("meson install: headers under <coil/...>, coil.pc without -std=, "
                                    "nothing names liburing, epoll or backend/", install)
    for std in ("c++20", "c++23"):
        name = f"every installed header compiles alone in {std} (-Wall -Wextra -Wpedantic -Werror)"
        if installed:
            tap.check(name, headers_compile_alone(std))
        else:
            tap.skip(name, "coil did not install")
    steps = [
        ("a project of its own builds with dependency('coil') via pkg-config at buildtype=release",
         pkg_config_meson_build, WORK / "pc-consumer" / "build" / "hello_coil"),
        ("... and with g++ -std=c++20 hello_coil.cpp $(pkg-config --cflags --libs coil)",
         pkg_config_gxx_build, WORK / "pc-consumer" / "hello_coil_gxx"),
    ]
    for name, build, program in steps:
        if installed and tap.check(name, build):
            tap.check(f"{program.name} runs", runs(program))
            if build is pkg_config_meson_build:
                tap.check("its meson test runs the installed coawait_lint (coil.pc variable)",
                          lint_runs_as_a_test(WORK / "pc-consumer" / "build"))
        else:
            tap.skip(name, "coil did not install or the build failed")
    sub_ok = tap.check("a project builds coil as a meson subproject at buildtype=release "
                       "(libraries only: no tests, benchmarks or programs; installs nothing)",
                       subproject_build)
    if sub_ok:
        tap.check("hello_coil (subproject build) runs", runs(WORK / "sub-consumer" / "build" / "hello_coil"))
        tap.check("its meson test runs coil's coawait_lint (dependency variable) on its sources",
                  lint_runs_as_a_test(WORK / "sub-consumer" / "build"))
    print(f"# {time.monotonic() - START:.0f} s")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
