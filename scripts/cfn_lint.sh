#!/usr/bin/env bash
# cfn-lint on the CloudFormation templates (docker/aws/*.yaml): errors and
# warnings fail. Rules a template must skip are named, with the reason, in
# that template's Metadata cfn-lint section, never here.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/cfn-lint -- docker/aws/*.yaml
