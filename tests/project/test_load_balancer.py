"""The AWS template (docker/aws/auditlog.yaml) agrees with what runs here.

The routing is written for nginx in scripts/nginx.conf.template (run by
`make run`, Docker and test_topology.py) and again as the ALB's listener rules;
health checks, queue names and container ports are written in the template
and read by the application. Nothing deploys the template here, so these
tests compare the two texts: nginx's locations and the listener rules, the
health-check paths and the URLconf, the queues and what `sqs_setup` makes,
target group, container and server ports.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import decode
from django.conf import settings
from django.test import override_settings
from django.urls import resolve

from auditlog_project import health, queues
from auditlog_project.aws import sqs_client
from logs.routing import websocket_urlpatterns
from scripts import servers

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "docker" / "aws" / "auditlog.yaml"
NGINX = ROOT / "scripts" / "nginx.conf.template"
PRODUCTION = ROOT / "auditlog_project" / "settings" / "production.py"
SERVING = ("web", "export", "stream")  # the pools behind a target group
REGION = "us-east-1"  # what AWS::Region stands for below


@pytest.fixture(scope="module")
def template() -> dict:
    loaded, problems = decode(str(TEMPLATE))
    assert not problems, problems
    assert loaded is not None
    return loaded


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def props(template: dict, name: str) -> dict:
    return template["Resources"][name]["Properties"]


def ref(node) -> str:
    """The logical id a {"Ref": id} node names."""
    assert isinstance(node, dict) and set(node) == {"Ref"}, node
    return node["Ref"]


def value(template: dict, node) -> str:
    """A property's value with the parameters at their defaults: Ref and Sub of
    parameters and pseudo-parameters resolved; a parameter without a default,
    a resource's Ref or GetAtt as <Name> or <Name.Attribute>."""
    if isinstance(node, str | int):
        return str(node)
    (function, argument), *rest = node.items()
    assert not rest, node
    if function == "Ref":
        if argument == "AWS::Region":
            return REGION
        parameter = template["Parameters"].get(argument, {})
        return str(parameter["Default"]) if "Default" in parameter else f"<{argument}>"
    if function == "Fn::GetAtt":
        return "<" + (argument if isinstance(argument, str) else ".".join(argument)) + ">"
    if function == "Fn::Sub":
        assert isinstance(argument, str), "Sub with a variable map: not needed so far"

        def one(match: re.Match) -> str:
            name = match.group(1)
            if "." in name:
                return value(template, {"Fn::GetAtt": name})
            return value(template, {"Ref": name})

        return re.sub(r"\$\{([^}!]+)\}", one, argument)
    raise AssertionError(f"cannot resolve {node}")


# --- nginx -------------------------------------------------------------------


def nginx_locations() -> list[tuple[str, str, str]]:
    """(modifier, path, upstream pool) of each proxied location of the template."""
    found = []
    for match in re.finditer(
        r"^\s*location\s+(?:(=)\s+)?(\S+)\s*\{(.*?)^\s*\}", NGINX.read_text(), re.M | re.S
    ):
        modifier, path, body = match.groups()
        proxied = re.search(r"proxy_pass\s+http://auditlog_(\w+);", body)
        if proxied:
            found.append((modifier or "", path, proxied.group(1)))
    return found


def test_nginx_template_is_read() -> None:
    """The parser finds the three routes (a changed template must change it too)."""
    pools = {pool for _, _, pool in nginx_locations()}
    assert pools == set(SERVING)


def alb_pattern(modifier: str, path: str) -> str:
    """nginx's `location = /p` is exact; `location /p` is a prefix: the ALB's /p*."""
    return path if modifier == "=" else path + "*"


def target_group_pool(name: str) -> str:
    match = re.fullmatch(r"(\w+)TargetGroup", name)
    assert match, name
    return match.group(1).lower()


def https_listener(template: dict) -> str:
    listeners = [
        name
        for name, r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items()
        if r["Properties"]["Protocol"] == "HTTPS"
    ]
    assert len(listeners) == 1, listeners
    return listeners[0]


def forward_target(actions: list) -> str:
    assert len(actions) == 1 and actions[0]["Type"] == "forward", actions
    return ref(actions[0]["TargetGroupArn"])


def test_listener_rules_are_nginx_routes(template) -> None:
    """Every nginx location has the same rule on the HTTPS listener, to the
    target group of the same pool, and the listener has no other rule; nginx's
    `location /` is the listener's default action."""
    listener = https_listener(template)
    nginx_rules, nginx_default = set(), None
    for modifier, path, pool in nginx_locations():
        if (modifier, path) == ("", "/"):
            nginx_default = pool
        else:
            nginx_rules.add((alb_pattern(modifier, path), pool))

    alb_rules = set()
    for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        rule_props = rule["Properties"]
        assert ref(rule_props["ListenerArn"]) == listener
        (condition,) = rule_props["Conditions"]
        assert condition["Field"] == "path-pattern"
        pool = target_group_pool(forward_target(rule_props["Actions"]))
        for pattern in condition["PathPatternConfig"]["Values"]:
            alb_rules.add((pattern, pool))
    default = target_group_pool(forward_target(props(template, listener)["DefaultActions"]))

    assert alb_rules == nginx_rules
    assert default == nginx_default == "web"


def test_routed_paths_are_the_applications(template) -> None:
    """The paths the rules name are the application's: the stream's WebSocket
    route and the export view (a renamed route must move the rule too)."""
    for rule in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values():
        rule_props = rule["Properties"]
        pool = target_group_pool(forward_target(rule_props["Actions"]))
        (pattern,) = rule_props["Conditions"][0]["PathPatternConfig"]["Values"]
        path = pattern.removesuffix("*")
        if pool == "stream":
            assert any(route.pattern.match(path.lstrip("/")) for route in websocket_urlpatterns)
        else:
            assert resolve(path).url_name == f"logs-{pool}"


def test_plain_http_only_redirects(template) -> None:
    listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
    (http,) = [name for name, r in listeners.items() if r["Properties"]["Protocol"] == "HTTP"]
    (action,) = props(template, http)["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert str(action["RedirectConfig"]["Port"]) == "443"
    rules = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert all(ref(r["Properties"]["ListenerArn"]) != http for r in rules)


# --- health checks -------------------------------------------------------------


def redirect_exempt() -> list[str]:
    """SECURE_REDIRECT_EXEMPT of the production settings, read without loading
    them (they refuse to load without production secrets)."""
    for node in ast.parse(PRODUCTION.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SECURE_REDIRECT_EXEMPT" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("SECURE_REDIRECT_EXEMPT not found")


PROBES = {"/healthz": health.healthz, "/readyz": health.readyz}


def test_health_check_paths_are_the_probes(template) -> None:
    """Every target group checks /readyz or /healthz (the parameter allows no
    other, defaults to /readyz) and wants a 200; each path is the probe view's in
    the URLconf and exempt from production's HTTPS redirect (a 301 would fail
    every check)."""
    parameter = template["Parameters"]["TargetHealthCheckPath"]
    assert parameter["Default"] == "/readyz"
    allowed = set(parameter["AllowedValues"])
    assert allowed <= set(PROBES)
    groups = resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {target_group_pool(name) for name in groups} == set(SERVING)
    for name, group in groups.items():
        group_props = group["Properties"]
        assert group_props["HealthCheckPath"] == {"Ref": "TargetHealthCheckPath"}, name
        assert group_props["HealthCheckProtocol"] == "HTTP", name
        assert str(group_props["Matcher"]["HttpCode"]) == "200", name
    exempt = redirect_exempt()
    for path in allowed:
        assert resolve(path).func is PROBES[path]
        assert any(re.search(pattern, path.lstrip("/")) for pattern in exempt), path


# --- containers and ports --------------------------------------------------------


def containers(template: dict) -> dict[str, dict]:
    """{task definition: its one container}."""
    found = {}
    for name, task in resources(template, "AWS::ECS::TaskDefinition").items():
        (container,) = task["Properties"]["ContainerDefinitions"]
        found[name] = container
    return found


def command_line(container: dict) -> str:
    return " ".join(container["Command"])


def served(container: dict) -> tuple[str, int]:
    """(process, port) from `scripts/servers.py exec NAME --host 0.0.0.0 --port N`."""
    match = re.search(
        r"scripts/servers\.py exec (\w+) --host 0\.0\.0\.0 --port (\d+)$", command_line(container)
    )
    assert match, command_line(container)
    return match.group(1), int(match.group(2))


def docker_ports() -> dict[str, int]:
    """The pools' ports in the Docker stack (same image): docker/nginx.conf's upstreams."""
    conf = servers.docker_nginx_conf()
    return {
        pool: int(port)
        for pool, port in re.findall(r"upstream auditlog_(\w+) \{\s*server \w+:(\d+);", conf)
    }


def test_target_group_ports_are_the_containers(template) -> None:
    """For each service behind the load balancer: its target group's port is the
    container port, the port in the container's mapping, the port the server
    binds (`--port`), the Docker stack's port for that pool, and one the
    load balancer may reach (security groups); the container runs the pool
    whose name the target group has."""
    tasks = containers(template)
    docker = docker_ports()
    lb_group = props(template, "LoadBalancer")["SecurityGroups"][0]
    lb_egress = {
        (rule["FromPort"], ref(rule["DestinationSecurityGroupId"]))
        for rule in props(template, "LoadBalancerSecurityGroup")["SecurityGroupEgress"]
    }
    ingress = {
        (r["Properties"]["FromPort"], ref(r["Properties"]["GroupId"]))
        for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == lb_group
    }
    balanced = {}
    for name, service in resources(template, "AWS::ECS::Service").items():
        service_props = service["Properties"]
        for attachment in service_props.get("LoadBalancers", []):
            pool = target_group_pool(ref(attachment["TargetGroupArn"]))
            group_port = int(props(template, ref(attachment["TargetGroupArn"]))["Port"])
            container = tasks[ref(service_props["TaskDefinition"])]
            assert attachment["ContainerName"] == container["Name"] == pool, name
            (mapping,) = container["PortMappings"]
            process, port = served(container)
            assert process == pool, name
            assert group_port == int(attachment["ContainerPort"]), name
            assert group_port == int(mapping["ContainerPort"]) == port == docker[pool], name
            task_group = ref(
                service_props["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"][0]
            )
            assert (group_port, task_group) in lb_egress, name
            assert (group_port, task_group) in ingress, name
            balanced[pool] = group_port
    assert set(balanced) == set(SERVING)


def test_container_health_checks_ask_healthz_on_their_port(template) -> None:
    for container in containers(template).values():
        if container["Name"] not in SERVING:
            continue
        _, port = served(container)
        check = " ".join(container["HealthCheck"]["Command"])
        assert f"http://127.0.0.1:{port}/healthz" in check, container["Name"]


def environment(template: dict, container: dict) -> dict[str, str]:
    return {item["Name"]: value(template, item["Value"]) for item in container["Environment"]}


def secrets(container: dict) -> dict[str, str]:
    found = {}
    for item in container["Secrets"]:
        if "Fn::If" in item:  # [condition, the secret, AWS::NoValue]
            item = item["Fn::If"][1]
        found[item["Name"]] = ref(item["ValueFrom"])
    return found


COMMON_ENV = (
    "DJANGO_SETTINGS_MODULE",
    "AUDITLOG_INSTANCE",
    "DJANGO_ALLOWED_HOSTS",
    "AWS_REGION",
    "SQS_QUEUE_PREFIX",
    "SQS_VISIBILITY_TIMEOUT",
    "SQS_MAX_RECEIVE_COUNT",
    "ARCHIVE_BUCKET",
    "ENCRYPTION_KMS_KEY_ID",
)


def test_every_container_has_the_same_settings(template) -> None:
    """The settings are repeated in each container definition: they must agree.
    Only migrate connects as the owner."""
    tasks = containers(template)
    web = tasks["WebTaskDefinition"]
    for name, container in tasks.items():
        env = environment(template, container)
        for key in COMMON_ENV:
            assert env.get(key) == environment(template, web)[key], (name, key)
        assert env["DJANGO_SETTINGS_MODULE"] == "auditlog_project.settings.production"
        found = secrets(container)
        for key in ("DJANGO_SECRET_KEY", "JWT_SIGNING_KEY", "REDIS_URL"):
            assert found[key] == secrets(web)[key], (name, key)
        owner = container["Name"] == "migrate"
        assert found["DATABASE_URL"] == ("DatabaseOwnerUrl" if owner else "DatabaseUrl"), name


def test_one_beat_even_while_deploying(template) -> None:
    (beat,) = [
        s["Properties"]
        for s in resources(template, "AWS::ECS::Service").values()
        if containers(template)[ref(s["Properties"]["TaskDefinition"])]["Name"] == "beat"
    ]
    assert int(beat["DesiredCount"]) == 1
    assert int(beat["DeploymentConfiguration"]["MaximumPercent"]) == 100


def test_serving_containers_allow_their_own_address(template, tmp_path) -> None:
    """The load balancer's health checks send the target's IP as Host: the
    serving containers add it (from the task metadata endpoint) and 127.0.0.1
    to DJANGO_ALLOWED_HOSTS before they exec the server. Run here with sh and
    a metadata document shaped like Fargate's."""
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps({"Networks": [{"IPv4Addresses": ["10.0.2.106"]}]}))
    for container in containers(template).values():
        if container["Name"] not in SERVING:
            continue
        shell, flag, script = container["Command"]
        assert (shell, flag) == ("sh", "-c")
        prefix, server = script.split(" && exec ")
        assert server.startswith("python scripts/servers.py exec ")
        answer = subprocess.run(
            [shell, flag, prefix + ' && printf "%s" "$DJANGO_ALLOWED_HOSTS"'],
            env={
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                "DJANGO_ALLOWED_HOSTS": "audit.example.com",
                "ECS_CONTAINER_METADATA_URI_V4": metadata.as_uri(),
            },
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert answer.stdout == "audit.example.com,127.0.0.1,10.0.2.106", answer.stderr


# --- queues -----------------------------------------------------------------------


def test_queues_are_what_sqs_setup_makes(template) -> None:
    """The template's queues have the names the application computes from the
    prefix its containers get, and the attributes `sqs_setup`
    (queues.ensure_queues) gives them, run here against the local SQS."""
    prefix = environment(template, containers(template)["WorkerTaskDefinition"])["SQS_QUEUE_PREFIX"]
    main = props(template, "TaskQueue")
    dead = props(template, "DeadLetterQueue")
    with override_settings(SQS_QUEUE_PREFIX=prefix):
        assert value(template, main["QueueName"]) == queues.queue_name(settings.SQS_DEFAULT_QUEUE)
        assert value(template, dead["QueueName"]) == queues.dead_letter_name(
            settings.SQS_DEFAULT_QUEUE
        )
    assert main["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
    }
    # The containers read the same parameters the queue is made with, whose
    # defaults are the settings' defaults.
    env = environment(template, containers(template)["WorkerTaskDefinition"])
    receives = value(template, main["RedrivePolicy"]["maxReceiveCount"])
    visibility = value(template, main["VisibilityTimeout"])
    assert env["SQS_MAX_RECEIVE_COUNT"] == receives == str(settings.SQS_MAX_RECEIVE_COUNT)
    assert env["SQS_VISIBILITY_TIMEOUT"] == visibility == str(settings.SQS_VISIBILITY_TIMEOUT)

    # What sqs_setup makes, under this run's own prefix.
    with override_settings(SQS_QUEUE_PREFIX=f"{settings.SQS_QUEUE_PREFIX}cfn-"):
        made = queues.ensure_queues()
        main_url = made[queues.queue_name(settings.SQS_DEFAULT_QUEUE)]
        dead_url = made[queues.dead_letter_name(settings.SQS_DEFAULT_QUEUE)]
    client = sqs_client()
    main_made = client.get_queue_attributes(QueueUrl=main_url, AttributeNames=["All"])
    dead_made = client.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["All"])
    main_made, dead_made = main_made["Attributes"], dead_made["Attributes"]
    assert main_made["VisibilityTimeout"] == visibility
    assert str(json.loads(main_made["RedrivePolicy"])["maxReceiveCount"]) == receives
    assert dead_made["MessageRetentionPeriod"] == str(dead["MessageRetentionPeriod"])
    assert main_made["MessageRetentionPeriod"] == str(main["MessageRetentionPeriod"])


def test_queues_and_bucket_are_encrypted_with_the_key(template) -> None:
    for name in ("TaskQueue", "DeadLetterQueue"):
        assert props(template, name)["KmsMasterKeyId"] == {"Ref": "Key"}, name
    (rule,) = props(template, "ArchiveBucket")["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {"Fn::GetAtt": ["Key", "Arn"]}
