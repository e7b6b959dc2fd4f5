// deploy/: the compose files and Kubernetes manifests, checked without a
// container engine or a cluster. Compose files pass `docker-compose config`
// (the Compose schema); every YAML file passes yamllint; every memory limit
// is what `laneway plan --lanes` bills for the lanes file the container
// mounts (at least the bill, at most 1 GiB above it); the manifests carry
// probes, resources and a non-root security context, and their objects refer
// to each other correctly; the ConfigMap's lanes.yaml passes the parser
// `serve` uses.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/cli_runner.h"
#include "support/testdata.h"

namespace laneway::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

fs::path deploy_dir() { return fs::path(LANEWAY_SOURCE_DIR) / "deploy"; }

struct Shell {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

Shell shell(const std::string& command) {
  Shell r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

bool have_tool(const std::string& tool) { return shell("command -v " + tool).exit_code == 0; }

// Memory sizes as compose (b, k, m, g: powers of 1024) and Kubernetes
// (Ki, Mi, Gi, Ti; k, M, G, T: powers of 1000) write them.
std::optional<double> size_bytes(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return std::nullopt;
  const double v = std::stod(text.substr(0, i));
  const std::string unit = text.substr(i);
  static const std::map<std::string, double> units = {
      {"", 1},           {"b", 1},           {"k", 1024},        {"m", 1024.0 * 1024},  {"g", kGiB},
      {"Ki", 1024},      {"Mi", 1048576.0},  {"Gi", kGiB},       {"Ti", kGiB * 1024},   {"K", 1e3},
      {"M", 1e6},        {"G", 1e9},         {"T", 1e12}};
  const auto it = units.find(unit);
  if (it == units.end()) return std::nullopt;
  return v * it->second;
}

struct PlanBill {
  double embedded_bytes = 0;  // every embedded lane at its configured context
  double reserve_other = 0;
  double reserve_os = 0;
  double memory = 0;  // the profile's total
  std::map<std::string, double> services;  // memory_budget per service
};

PlanBill plan_of(const fs::path& lanes_file) {
  PlanBill b;
  const CliResult r = run_laneway("plan --lanes '" + lanes_file.string() + "' --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out;
  if (j.is_discarded()) return b;
  for (const auto& l : j["lanes"]) {
    if (l["kind"] == "embedded") b.embedded_bytes += l["total_bytes"].get<double>();
  }
  b.reserve_other = j["reserves"]["other_bytes"].get<double>();
  b.reserve_os = j["reserves"]["os_bytes"].get<double>();
  b.memory = j["memory_bytes"].get<double>();
  for (const auto& s : j["services"]) b.services[s["name"].get<std::string>()] = s["bytes"].get<double>();
  return b;
}

// A limit that holds the plan's bill and wastes at most 1 GiB beyond it.
void expect_limit_matches(double limit, double bill, const std::string& what) {
  EXPECT_GE(limit, bill) << what << ": the limit " << limit / kGiB << " GiB is below the plan's " << bill / kGiB
                         << " GiB: the container would be killed for memory the plan counts on";
  EXPECT_LE(limit, bill + kGiB) << what << ": the limit " << limit / kGiB << " GiB is more than 1 GiB above the plan's "
                                << bill / kGiB << " GiB: update it from `laneway plan --lanes`";
  std::printf("%s: limit %.2f GiB, plan %.2f GiB\n", what.c_str(), limit / kGiB, bill / kGiB);
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& prefix, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind(prefix, 0) == 0 && e.path().extension() == ext) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

#define REQUIRE_TOOL(tool)                                                                              \
  do {                                                                                                  \
    if (!have_tool(tool)) GTEST_FAIL() << tool << " is missing: scripts/setup installs it (Debian package)"; \
  } while (0)

TEST(DeployCompose, EveryComposeFilePassesTheComposeSchema) {
  REQUIRE_TOOL("docker-compose");
  const auto files = files_in(deploy_dir(), "compose.", ".yaml");
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    // Variables the files take from the environment get their defaults.
    const Shell r = shell("cd '" + deploy_dir().string() + "' && env -u MODELS_DIR -u RENDER_GID docker-compose -f '" +
                          f.filename().string() + "' config -q");
    EXPECT_EQ(r.exit_code, 0) << f << ":\n" << r.out;
  }
}

// The lanes file a compose service mounts at /etc/laneway/lanes.yaml.
std::optional<fs::path> mounted_lanes(const YAML::Node& service) {
  for (const auto& v : service["volumes"]) {
    const std::string s = v.as<std::string>();
    const auto colon = s.find(':');
    if (colon == std::string::npos) continue;
    if (s.substr(colon + 1).rfind("/etc/laneway/lanes.yaml", 0) == 0) return deploy_dir() / s.substr(0, colon);
  }
  return std::nullopt;
}

TEST(DeployCompose, MemoryLimitsAreWhatThePlanBills) {
  const auto files = files_in(deploy_dir(), "compose.", ".yaml");
  ASSERT_GE(files.size(), 2u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const YAML::Node doc = YAML::LoadFile(f.string());
    const YAML::Node services = doc["services"];
    ASSERT_TRUE(services && services["laneway"]) << "no laneway service";
    const YAML::Node laneway = services["laneway"];
    const auto lanes = mounted_lanes(laneway);
    ASSERT_TRUE(lanes) << "the laneway service mounts no lanes.yaml at /etc/laneway/lanes.yaml";
    const PlanBill bill = plan_of(*lanes);
    ASSERT_GT(bill.embedded_bytes, 0);
    ASSERT_TRUE(laneway["mem_limit"]) << "laneway has no mem_limit";
    const auto limit = size_bytes(laneway["mem_limit"].as<std::string>());
    ASSERT_TRUE(limit);
    expect_limit_matches(*limit, bill.embedded_bytes + bill.reserve_other, f.filename().string() + " laneway");
    EXPECT_EQ(laneway["ulimits"]["memlock"].as<std::string>(), "-1") << "pinned lanes need an unlimited memlock";
    double all = *limit;
    // Other services are upstreams of the lanes file: their limit is their memory_budget.
    for (const auto& kv : services) {
      const std::string name = kv.first.as<std::string>();
      if (name == "laneway") continue;
      ASSERT_TRUE(bill.services.count(name)) << "service " << name << " is not a service of " << *lanes;
      ASSERT_TRUE(kv.second["mem_limit"]) << name << " has no mem_limit";
      const double l = *size_bytes(kv.second["mem_limit"].as<std::string>());
      EXPECT_EQ(l, bill.services.at(name)) << name << ": mem_limit is not the service's memory_budget";
      all += l;
    }
    EXPECT_LE(all + bill.reserve_os, bill.memory) << "the containers' limits and reserve_os exceed the machine";
    // The image's own health check or one here, and a grace period longer than the server's.
    EXPECT_TRUE(laneway["healthcheck"]) << "laneway has no healthcheck";
  }
}

TEST(DeployYaml, EveryFilePassesYamllint) {
  REQUIRE_TOOL("yamllint");
  const Shell r = shell("cd '" + deploy_dir().string() + "' && yamllint --strict -c .yamllint .");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

struct K8sObjects {
  std::vector<YAML::Node> all;
  std::vector<YAML::Node> of(const std::string& kind) const {
    std::vector<YAML::Node> out;
    for (const auto& o : all) {
      if (o["kind"].as<std::string>() == kind) out.push_back(o);
    }
    return out;
  }
  std::optional<YAML::Node> find(const std::string& kind, const std::string& name) const {
    for (const auto& o : of(kind)) {
      if (o["metadata"]["name"].as<std::string>() == name) return o;
    }
    return std::nullopt;
  }
};

K8sObjects load_k8s() {
  K8sObjects k;
  for (const auto& f : files_in(deploy_dir() / "k8s", "", ".yaml")) {
    for (const auto& doc : YAML::LoadAllFromFile(f.string())) {
      if (doc.IsNull()) continue;
      EXPECT_TRUE(doc["apiVersion"] && doc["kind"] && doc["metadata"]["name"]) << f << ": an object without apiVersion/kind/name";
      k.all.push_back(doc);
    }
  }
  return k;
}

// matchLabels ⊆ labels.
bool selects(const YAML::Node& match_labels, const YAML::Node& labels) {
  if (!match_labels || match_labels.size() == 0) return false;
  for (const auto& kv : match_labels) {
    const YAML::Node v = labels[kv.first.as<std::string>()];
    if (!v || v.as<std::string>() != kv.second.as<std::string>()) return false;
  }
  return true;
}

std::optional<std::string> arg_value(const YAML::Node& args, const std::string& flag) {
  for (const auto& a : args) {
    const std::string s = a.as<std::string>();
    if (s.rfind(flag + "=", 0) == 0) return s.substr(flag.size() + 1);
  }
  return std::nullopt;
}

TEST(DeployKubernetes, DeploymentsHaveProbesResourcesAndRunAsNonRoot) {
  const K8sObjects k = load_k8s();
  const auto deployments = k.of("Deployment");
  ASSERT_FALSE(deployments.empty());
  for (const auto& d : deployments) {
    const std::string name = d["metadata"]["name"].as<std::string>();
    SCOPED_TRACE("Deployment " + name);
    const YAML::Node pod = d["spec"]["template"]["spec"];
    EXPECT_TRUE(selects(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]));
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>(false)) << "runAsNonRoot";
    EXPECT_GT(pod["securityContext"]["runAsUser"].as<int>(0), 0) << "a non-root uid";
    for (const auto& c : pod["containers"]) {
      SCOPED_TRACE("container " + c["name"].as<std::string>());
      EXPECT_FALSE(c["securityContext"]["allowPrivilegeEscalation"].as<bool>(true));
      EXPECT_TRUE(c["readinessProbe"]["httpGet"]["path"]) << "no HTTP readiness probe";
      EXPECT_TRUE(c["livenessProbe"]["httpGet"]["path"]) << "no HTTP liveness probe";
      EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(""), "/health")
          << "liveness must not depend on a lane (a down upstream would restart a healthy process)";
      const std::string readiness = c["readinessProbe"]["httpGet"]["path"].as<std::string>("");
      EXPECT_EQ(readiness.rfind("/health?lane=", 0), 0u) << "readiness is a lane's: " << readiness;
      ASSERT_TRUE(c["resources"]["requests"]["memory"] && c["resources"]["limits"]["memory"]) << "memory resources";
      EXPECT_EQ(c["resources"]["requests"]["memory"].as<std::string>(), c["resources"]["limits"]["memory"].as<std::string>())
          << "request = limit: the scheduler places what the plan bills";
      // The grace period covers the drain delay and the in-flight grace.
      const double drain = std::stod(arg_value(c["args"], "--drain-delay-ms").value_or("0"));
      const double grace = std::stod(arg_value(c["args"], "--shutdown-grace-ms").value_or("10000"));
      EXPECT_GT(pod["terminationGracePeriodSeconds"].as<double>(30) * 1000, drain + grace);
    }
  }
}

TEST(DeployKubernetes, ObjectsReferToEachOther) {
  const K8sObjects k = load_k8s();
  const auto deployments = k.of("Deployment");
  ASSERT_FALSE(deployments.empty());
  auto selects_a_deployment = [&](const YAML::Node& match_labels) {
    for (const auto& d : deployments) {
      if (selects(match_labels, d["spec"]["template"]["metadata"]["labels"])) return true;
    }
    return false;
  };
  const auto services = k.of("Service");
  ASSERT_FALSE(services.empty());
  for (const auto& s : services) {
    EXPECT_TRUE(selects_a_deployment(s["spec"]["selector"])) << "Service " << s["metadata"]["name"] << " selects no Deployment";
    for (const auto& p : s["spec"]["ports"]) {
      if (!p["targetPort"].IsScalar() || std::isdigit(static_cast<unsigned char>(p["targetPort"].as<std::string>()[0]))) continue;
      bool named = false;
      for (const auto& d : deployments) {
        for (const auto& c : d["spec"]["template"]["spec"]["containers"]) {
          for (const auto& cp : c["ports"]) named = named || cp["name"].as<std::string>("") == p["targetPort"].as<std::string>();
        }
      }
      EXPECT_TRUE(named) << "Service port targets " << p["targetPort"] << ", which no container names";
    }
  }
  for (const auto& pdb : k.of("PodDisruptionBudget")) {
    EXPECT_TRUE(selects_a_deployment(pdb["spec"]["selector"]["matchLabels"])) << "the PodDisruptionBudget selects nothing";
  }
  const auto hpas = k.of("HorizontalPodAutoscaler");
  ASSERT_FALSE(hpas.empty());
  for (const auto& h : hpas) {
    const YAML::Node ref = h["spec"]["scaleTargetRef"];
    EXPECT_TRUE(k.find(ref["kind"].as<std::string>(), ref["name"].as<std::string>())) << "the HPA scales a missing object";
    for (const auto& m : h["spec"]["metrics"]) {
      if (m["type"].as<std::string>() != "Pods") continue;
      const std::string metric = m["pods"]["metric"]["name"].as<std::string>();
      // A metric Laneway really exports (its name is in the exporter's source).
      const std::string exporter = read_file(fs::path(LANEWAY_SOURCE_DIR) / "src/server/metrics.cpp");
      EXPECT_NE(exporter.find('"' + metric + '"'), std::string::npos) << "Laneway exports no metric " << metric;
    }
  }
  for (const auto& d : deployments) {
    for (const auto& v : d["spec"]["template"]["spec"]["volumes"]) {
      if (v["configMap"]) {
        EXPECT_TRUE(k.find("ConfigMap", v["configMap"]["name"].as<std::string>())) << "a missing ConfigMap";
      }
      if (v["persistentVolumeClaim"]) {
        EXPECT_TRUE(k.find("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"].as<std::string>()))
            << "a missing PersistentVolumeClaim";
      }
    }
  }
}

TEST(DeployKubernetes, TheConfigMapsLanesPassTheParserAndTheMemoryIsThePlans) {
  const K8sObjects k = load_k8s();
  const auto deployment = k.find("Deployment", "laneway");
  ASSERT_TRUE(deployment);
  const YAML::Node pod = (*deployment)["spec"]["template"]["spec"];
  std::string cm_name;
  for (const auto& v : pod["volumes"]) {
    if (v["configMap"]) cm_name = v["configMap"]["name"].as<std::string>();
  }
  const auto cm = k.find("ConfigMap", cm_name);
  ASSERT_TRUE(cm) << "the Deployment mounts no ConfigMap";
  const std::string lanes_text = (*cm)["data"]["lanes.yaml"].as<std::string>("");
  ASSERT_FALSE(lanes_text.empty());
  const fs::path dir = scratch_dir("deploy_k8s");
  const fs::path lanes = dir / "lanes.yaml";
  std::ofstream(lanes) << lanes_text;
  const CliResult check = run_laneway("config check '" + lanes.string() + "' --json");
  ASSERT_EQ(check.exit_code, 0) << check.out << check.err;
  const json cfg = json::parse(check.out, nullptr, false);
  ASSERT_FALSE(cfg.is_discarded()) << check.out;

  const YAML::Node c = pod["containers"][0];
  // The readiness probe names a lane of the file, and it answers without a key.
  const std::string readiness = c["readinessProbe"]["httpGet"]["path"].as<std::string>();
  const std::string lane = readiness.substr(readiness.find('=') + 1);
  bool found = false;
  for (const auto& l : cfg["lanes"]) found = found || l["name"] == lane;
  EXPECT_TRUE(found) << "readiness probes lane '" << lane << "', which the ConfigMap's lanes.yaml does not have";
  const YAML::Node config = YAML::Load(lanes_text);
  std::set<std::string> open;
  for (const auto& r : config["server"]["open_routes"]) open.insert(r.as<std::string>());
  if (config["server"]["api_keys"]) {
    EXPECT_TRUE(open.count("readiness")) << "kubelet probes carry no key: open_routes needs readiness";
    if ((*deployment)["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"].as<std::string>("") == "true") {
      EXPECT_TRUE(open.count("metrics")) << "the pods are scraped without a key: open_routes needs metrics";
    }
  }
  EXPECT_EQ(config["server"]["host"].as<std::string>(""), "0.0.0.0") << "in a pod the server must bind every address";

  const PlanBill bill = plan_of(lanes);
  const auto limit = size_bytes(c["resources"]["limits"]["memory"].as<std::string>());
  ASSERT_TRUE(limit);
  expect_limit_matches(*limit, bill.embedded_bytes + bill.reserve_other, "k8s laneway");
}

}  // namespace
}  // namespace laneway::test
