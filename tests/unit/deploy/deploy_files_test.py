#!/usr/bin/env python3
"""Checks the container files in deploy/ without building an image.

Image builds are not part of CI (deploy/build-images takes tens of minutes),
so this is what keeps a change from breaking them unnoticed:

- QuadletTest: deploy/laneway.container parses as a systemd unit, every
  [Container] key is one podman-systemd.unit(5) documents (a misspelt key makes
  the quadlet generator drop the whole unit), and the keys the service needs
  are there: the image, /dev/dri, the render/video groups, memlock, the health
  check, the port and the volumes.
- ContainerfileTest: both Containerfiles are multi-stage (a build stage, a
  runtime stage copying from it), end as a non-root USER with HEALTHCHECK,
  ENTRYPOINT ["laneway"], VOLUMEs for /models and /etc/laneway and EXPOSE 8080,
  name no CPU architecture, and only COPY what .containerignore lets in.
- RuntimeLibrariesTest: every shared library the built laneway binary links
  (ldd) comes from a package the runtime stages install or the base image has
  (dpkg -S), and the images' default lane file passes `laneway config check`;
  skipped without the binary (ldd and dpkg too for the first).
- HealthcheckTest: deploy/healthcheck against a small HTTP server: 200 is
  healthy, 503 and a closed port are not.

Usage: deploy_files_test.py [--laneway PATH] [unittest arguments]
"""
import argparse
import http.server
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEPLOY = os.path.join(REPO, "deploy")
LANEWAY_BINARY = None  # set by --laneway
HEALTHCHECK_IN_IMAGE = "/usr/local/lib/laneway/healthcheck"

# ---- the documented keys -----------------------------------------------------

# podman-systemd.unit(5), [Container] (Podman 5.x).
QUADLET_CONTAINER_KEYS = {
    "AddCapability", "AddDevice", "AddHost", "Annotation", "AutoUpdate", "CgroupsMode",
    "ContainerName", "ContainersConfModule", "DNS", "DNSOption", "DNSSearch", "DropCapability",
    "Entrypoint", "Environment", "EnvironmentFile", "EnvironmentHost", "Exec", "ExposeHostPort",
    "GIDMap", "GlobalArgs", "Group", "GroupAdd", "HealthCmd", "HealthInterval",
    "HealthLogDestination", "HealthMaxLogCount", "HealthMaxLogSize", "HealthOnFailure",
    "HealthRetries", "HealthStartPeriod", "HealthStartupCmd", "HealthStartupInterval",
    "HealthStartupRetries", "HealthStartupSuccess", "HealthStartupTimeout", "HealthTimeout",
    "HostName", "Image", "IP", "IP6", "Label", "LogDriver", "LogOpt", "Mask", "Memory", "Mount",
    "Network", "NetworkAlias", "NoNewPrivileges", "Notify", "PidsLimit", "Pod", "PodmanArgs",
    "PublishPort", "Pull", "ReadOnly", "ReadOnlyTmpfs", "ReloadCmd", "ReloadSignal", "Retry",
    "RetryDelay", "Rootfs", "RunInit", "SeccompProfile", "Secret", "SecurityLabelDisable",
    "SecurityLabelFileType", "SecurityLabelLevel", "SecurityLabelNested", "SecurityLabelType",
    "ShmSize", "StartWithPod", "StopSignal", "StopTimeout", "SubGIDMap", "SubUIDMap", "Sysctl",
    "Timezone", "Tmpfs", "UIDMap", "Ulimit", "Unmask", "User", "UserNS", "Volume", "WorkingDir",
}
# [Install]: the keys the generator applies (podman-systemd.unit(5)).
QUADLET_INSTALL_KEYS = {"Alias", "WantedBy", "RequiredBy", "UpheldBy", "DefaultInstance"}
# [Unit] and [Service] pass to systemd untouched: systemd.unit(5),
# systemd.service(5), systemd.exec(5) and systemd.kill(5), the keys a
# container service plausibly uses (a typo still fails here).
SYSTEMD_UNIT_KEYS = {
    "Description", "Documentation", "Wants", "Requires", "Requisite", "BindsTo", "PartOf",
    "Upholds", "Conflicts", "Before", "After", "OnFailure", "OnSuccess", "StartLimitIntervalSec",
    "StartLimitBurst", "StartLimitAction", "ConditionPathExists", "ConditionPathIsDirectory",
    "AssertPathExists", "DefaultDependencies", "RequiresMountsFor", "StopWhenUnneeded",
}
SYSTEMD_SERVICE_KEYS = {
    "Type", "Restart", "RestartSec", "RestartSteps", "RestartMaxDelaySec", "TimeoutStartSec",
    "TimeoutStopSec", "TimeoutSec", "RuntimeMaxSec", "WatchdogSec", "ExecStartPre",
    "ExecStartPost", "ExecStop", "ExecStopPost", "ExecReload", "RemainAfterExit",
    "SuccessExitStatus", "RestartPreventExitStatus", "Environment", "EnvironmentFile",
    "LimitMEMLOCK", "LimitNOFILE", "LimitNPROC", "LimitCORE", "KillMode", "KillSignal",
    "SyslogIdentifier", "Nice", "CPUWeight", "MemoryMax", "MemoryHigh", "OOMScoreAdjust",
    "Slice", "Delegate", "WorkingDirectory", "SupplementaryGroups",
}
SECTION_KEYS = {
    "Unit": SYSTEMD_UNIT_KEYS,
    "Container": QUADLET_CONTAINER_KEYS,
    "Service": SYSTEMD_SERVICE_KEYS,
    "Install": QUADLET_INSTALL_KEYS,
}


def parse_unit(text):
    """A systemd unit file as [(section, key, value, line)]; keys may repeat."""
    entries, section, pending, start = [], None, "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if not pending and line.startswith("["):
            if not line.endswith("]"):
                raise ValueError(f"line {number}: bad section header {raw!r}")
            section = line[1:-1]
            continue
        if line.endswith("\\"):
            pending, start = pending + line[:-1] + " ", start or number
            continue
        line, first, pending, start = pending + line, start or number, "", 0
        if section is None:
            raise ValueError(f"line {first}: key outside a section")
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"line {first}: no '=' in {line!r}")
        entries.append((section, key.strip(), value.strip(), first))
    if pending:
        raise ValueError("the file ends inside a continued line")
    return entries


class QuadletTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DEPLOY, "laneway.container"), encoding="utf-8") as f:
            cls.entries = parse_unit(f.read())

    def values(self, section, key):
        return [v for s, k, v, _ in self.entries if s == section and k == key]

    def test_sections_and_keys_are_documented(self):
        for section, key, _, line in self.entries:
            self.assertIn(section, SECTION_KEYS, f"line {line}: unknown section [{section}]")
            self.assertTrue(key in SECTION_KEYS[section],
                            f"line {line}: {key}= is not a documented [{section}] key")
        self.assertEqual({s for s, *_ in self.entries}, set(SECTION_KEYS))

    def test_single_valued_keys_appear_once(self):
        for key in ("Image", "ContainerName", "Exec", "HealthCmd", "Notify"):
            self.assertLessEqual(len(self.values("Container", key)), 1, key)

    def test_image_and_command(self):
        self.assertEqual(self.values("Container", "Image"), ["localhost/laneway:vulkan"])
        exec_args = shlex.split(self.values("Container", "Exec")[0])
        self.assertEqual(exec_args[0], "serve")
        self.assertIn("--host", exec_args)
        self.assertEqual(exec_args[exec_args.index("--host") + 1], "0.0.0.0")
        self.assertTrue(any(p.endswith(":8080") for p in self.values("Container", "PublishPort")))

    def test_gpu_groups_and_memlock(self):
        self.assertIn("/dev/dri", [d.lstrip("-").split(":")[0] for d in self.values("Container", "AddDevice")])
        groups = self.values("Container", "GroupAdd")
        self.assertTrue(groups, "no GroupAdd=: the render and video groups do not reach the container")
        if "keep-groups" in groups:
            self.assertEqual(groups, ["keep-groups"], "keep-groups excludes other GroupAdd= values")
        else:
            self.assertGreaterEqual(len(groups), 2, "GroupAdd= needs the render and the video group")
        self.assertTrue(any(re.fullmatch(r"memlock=(-1|unlimited)(:(-1|unlimited))?", u)
                            for u in self.values("Container", "Ulimit")), "no Ulimit=memlock=-1:-1")
        self.assertEqual(self.values("Service", "LimitMEMLOCK"), ["infinity"])

    def test_health_check(self):
        self.assertEqual(self.values("Container", "HealthCmd"), [HEALTHCHECK_IN_IMAGE])
        for key in ("HealthInterval", "HealthTimeout", "HealthRetries", "HealthStartPeriod"):
            self.assertEqual(len(self.values("Container", key)), 1, key)
        self.assertEqual(self.values("Container", "Notify"), ["healthy"])
        self.assertEqual(self.values("Service", "Restart"), ["always"])

    def test_volumes(self):
        targets = [v.split(":")[1] for v in self.values("Container", "Volume")]
        self.assertIn("/models", targets)
        self.assertIn("/etc/laneway/lanes.yaml", targets)

    def test_parser_rejects_broken_files(self):
        with self.assertRaises(ValueError):
            parse_unit("Image=x\n")
        with self.assertRaises(ValueError):
            parse_unit("[Container]\nImage\n")
        self.assertEqual(parse_unit("[Container]\nExec=serve \\\n  --host 0.0.0.0\n")[0][2],
                         "serve  --host 0.0.0.0")


# ---- Containerfiles -------------------------------------------------------------

def parse_containerfile(text):
    """Instructions as [(INSTRUCTION, arguments, line)], continuations joined."""
    out, pending, start = [], "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if pending and line.lstrip().startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending, start = pending + line[:-1] + " ", start or number
            continue
        line, first, pending, start = pending + line, start or number, "", 0
        word, _, rest = line.strip().partition(" ")
        out.append((word.upper(), rest.strip(), first))
    return out


def containerignore_allows(path, patterns):
    """Whether .containerignore (an allow list: '*' then '!path') lets path in."""
    allowed = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern[1:] if negate else pattern
        p = p.rstrip("/")
        if p == "*" or p == path or path.startswith(p + "/") or (p.startswith("**/") and (
                path.endswith("/" + p[3:]) or ("/" + p[3:] + "/") in "/" + path + "/")):
            allowed = negate
    return allowed


class ContainerfileTest(unittest.TestCase):
    NAMES = ("Containerfile.cpu", "Containerfile.vulkan")

    @classmethod
    def setUpClass(cls):
        cls.files = {}
        for name in cls.NAMES:
            with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
                cls.files[name] = f.read()
        with open(os.path.join(REPO, ".containerignore"), encoding="utf-8") as f:
            cls.ignore = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]

    def stages(self, name):
        """[(from_args, [instructions])]; instructions before the first FROM go in a None stage."""
        stages = [(None, [])]
        for ins in parse_containerfile(self.files[name]):
            if ins[0] == "FROM":
                stages.append((ins[1], []))
            else:
                stages[-1][1].append(ins)
        return stages

    def test_base_argument_defaults_to_debian_slim(self):
        for name in self.NAMES:
            with self.subTest(name):
                pre = self.stages(name)[0][1]
                self.assertIn(("ARG", "BASE=docker.io/library/debian:bookworm-slim"), [(i, a) for i, a, _ in pre])
                for from_args, _ in self.stages(name)[1:]:
                    self.assertTrue(from_args.startswith("${BASE}"), from_args)

    def test_multi_stage(self):
        for name in self.NAMES:
            with self.subTest(name):
                stages = self.stages(name)[1:]
                self.assertEqual(len(stages), 2)
                self.assertRegex(stages[0][0], r"\bAS build$")
                self.assertNotIn(" AS ", stages[1][0].upper())
                build = " ".join(a for i, a, _ in stages[0][1] if i == "RUN")
                self.assertIn("scripts/setup --build-only", build)
                self.assertIn("cmake --preset release", build)
                self.assertIn("--target laneway", build)
                self.assertTrue(any(i == "COPY" and a.startswith("--from=build ") for i, a, _ in stages[1][1]))

    def final(self, name, instruction):
        return [a for i, a, _ in self.stages(name)[-1][1] if i == instruction]

    def test_final_stage(self):
        for name in self.NAMES:
            with self.subTest(name):
                users = self.final(name, "USER")
                self.assertTrue(users, "no USER: the server would run as root")
                self.assertNotIn(users[-1].split(":")[0], ("root", "0"))
                self.assertEqual(self.final(name, "ENTRYPOINT"), ['["laneway"]'])
                cmd = self.final(name, "CMD")[-1]
                self.assertIn('"--host", "0.0.0.0"', cmd)
                self.assertEqual(self.final(name, "EXPOSE"), ["8080"])
                volumes = " ".join(self.final(name, "VOLUME"))
                self.assertIn('"/models"', volumes)
                self.assertIn('"/etc/laneway"', volumes)
                health = self.final(name, "HEALTHCHECK")
                self.assertEqual(len(health), 1)
                self.assertIn(f'CMD ["{HEALTHCHECK_IN_IMAGE}"]', health[0])
                self.assertIn(f"deploy/healthcheck {HEALTHCHECK_IN_IMAGE}", self.final(name, "COPY"))
                self.assertIn("deploy/lanes.container.yaml /etc/laneway/lanes.yaml", self.final(name, "COPY"))

    def test_vulkan_image_has_the_drivers(self):
        run = " ".join(self.final("Containerfile.vulkan", "RUN"))
        self.assertIn("mesa-vulkan-drivers", run)
        self.assertNotIn("mesa-vulkan-drivers", " ".join(self.final("Containerfile.cpu", "RUN")))

    def test_no_architecture_named(self):
        for name in self.NAMES:
            for ins, args, line in parse_containerfile(self.files[name]):
                with self.subTest(name=name, line=line):
                    self.assertIsNone(re.search(r"x86_64|amd64|aarch64|arm64|x86-64", args), args)

    def test_copy_sources_are_in_the_context(self):
        for name in self.NAMES:
            for ins, args, line in parse_containerfile(self.files[name]):
                if ins != "COPY" or args.startswith("--from="):
                    continue
                for source in args.split()[:-1]:
                    with self.subTest(name=name, source=source):
                        self.assertTrue(os.path.exists(os.path.join(REPO, source)), f"line {line}: {source} missing")
                        self.assertTrue(containerignore_allows(source.rstrip("/"), self.ignore),
                                        f"line {line}: .containerignore keeps {source} out of the build context")

    def test_context_keeps_out_build_trees_and_vcs(self):
        for path in ("build/release/src/cli/laneway", ".git/HEAD", "src/build/x.o", "node_modules/a/b.js",
                     "tests/unit/deploy/deploy_files_test.py", "docs/containers.md"):
            self.assertFalse(containerignore_allows(path, self.ignore), path)
        self.assertTrue(containerignore_allows("src/cli/main.cpp", self.ignore))
        self.assertEqual(os.path.realpath(os.path.join(REPO, ".dockerignore")),
                         os.path.realpath(os.path.join(REPO, ".containerignore")))


# ---- runtime libraries ------------------------------------------------------------

# In every Debian base image (Priority: required) and not listed.
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1"}


class RuntimeLibrariesTest(unittest.TestCase):
    def setUp(self):
        # Registered as an e2e test (ctest runs it where the binary is built):
        # a missing binary is a failure, never a skip counted as a pass.
        self.assertTrue(LANEWAY_BINARY and os.path.exists(LANEWAY_BINARY),
                        f"no laneway binary at {LANEWAY_BINARY!r} (--laneway; build the laneway target)")

    def test_default_lane_file_is_valid(self):
        result = subprocess.run([LANEWAY_BINARY, "config", "check", os.path.join(DEPLOY, "lanes.container.yaml")],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("server 0.0.0.0:8080", result.stdout)
        self.assertIn("models_dir /models", result.stdout)

    def test_every_linked_library_is_installed(self):
        self.assertTrue(shutil.which("ldd") and shutil.which("dpkg"), "no ldd or dpkg here (Debian's libc-bin, dpkg)")
        ldd = subprocess.run(["ldd", LANEWAY_BINARY], capture_output=True, text=True, check=True).stdout
        paths = re.findall(r"=> (/\S+)", ldd)
        self.assertTrue(paths)
        owners = subprocess.run(["dpkg", "-S"] + [os.path.realpath(p) for p in paths],
                                capture_output=True, text=True).stdout
        packages = {line.split(":")[0] for line in owners.splitlines() if ":" in line}
        self.assertTrue(packages)
        for name in ContainerfileTest.NAMES:
            with open(os.path.join(DEPLOY, name), encoding="utf-8") as f:
                text = f.read()
            installed = set(re.findall(r"\b(lib[a-z0-9.+-]+)\b", text.split("AS build", 1)[1].split("FROM", 1)[1]))
            for package in sorted(packages - BASE_PACKAGES):
                with self.subTest(name=name, package=package):
                    self.assertIn(package, installed, f"laneway links a library of {package}; install it in the runtime stage")


# ---- the health check script -----------------------------------------------------

class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        code = type(self).status if self.path == "/health" else 404
        body = b'{"status":"ok"}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except ConnectionError:
            pass  # the health check closes after the status line

    def log_message(self, *args):
        pass


class HealthcheckTest(unittest.TestCase):
    SCRIPT = os.path.join(DEPLOY, "healthcheck")

    def run_check(self, port):
        env = dict(os.environ, LANEWAY_HEALTH_PORT=str(port))
        return subprocess.run(["bash", self.SCRIPT], env=env, capture_output=True, text=True, timeout=20)

    def serve(self, status):
        handler = type("Handler", (_Health,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return server.server_address[1]

    def test_healthy_on_200(self):
        result = self.run_check(self.serve(200))
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_unhealthy_on_503(self):
        result = self.run_check(self.serve(503))
        self.assertEqual(result.returncode, 1)
        self.assertIn("503", result.stderr)

    def test_unhealthy_when_nothing_listens(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        result = self.run_check(port)
        self.assertEqual(result.returncode, 1)
        self.assertIn("nothing listens", result.stderr)

    def test_rejects_a_bad_port(self):
        self.assertEqual(self.run_check("80; true").returncode, 1)

    def test_scripts_parse(self):
        for script in ("healthcheck", "build-images"):
            with self.subTest(script):
                subprocess.run(["bash", "-n", os.path.join(DEPLOY, script)], check=True)
                self.assertTrue(os.access(os.path.join(DEPLOY, script), os.X_OK), f"{script} is not executable")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--laneway")
    known, rest = parser.parse_known_args()
    LANEWAY_BINARY = known.laneway
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
