#!/usr/bin/env python3
"""Write fixtures/shapes, fixtures/project, fixtures/not-a-project and
fixtures/shapes-negatives: every shape of issue #19 with GENERATED values
(seeded, so reruns write the same bytes). No value was ever issued by Cybrid."""
import base64, json, os, random, sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
rng = random.Random(19)

def b64(n=32):
    while True:
        v = base64.urlsafe_b64encode(rng.randbytes(n)).decode().rstrip("=")
        if any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() for c in v):
            return v

def hexid():
    return rng.randbytes(16).hex()

def write(rel, text):
    path = os.path.join(ROOT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)

def jwt(payload):
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).decode().rstrip("=")
    header = {"kid": b64(), "alg": "RS512"}
    sig = base64.urlsafe_b64encode(rng.randbytes(256)).decode().rstrip("=")
    return f"{enc(header)}.{enc(payload)}.{sig}"

S = {}
def pair(name):
    S[name] = (b64(), b64())
    return S[name]

# ---------- shapes (positives) ----------
i, s = pair("plist"); g = hexid()
write("shapes/ios/CybridDemo/Info.plist", f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>CFBundleDevelopmentRegion</key>
	<string>$(DEVELOPMENT_LANGUAGE)</string>
	<key>CFBundleIdentifier</key>
	<string>$(PRODUCT_BUNDLE_IDENTIFIER)</string>
	<key>CybridClientId</key>
	<string>{i}</string>
	<key>CybridClientSecret</key>
	<string>{s}</string>
	<key>CybridCustomerGUID</key>
	<string>{g}</string>
	<key>UILaunchStoryboardName</key>
	<string>LaunchScreen</string>
</dict>
</plist>
""")
i, s = pair("strings_xml")
write("shapes/android/app/src/main/res/values/strings.xml", f"""<resources>
    <string name="app_name">Wallet Demo</string>
    <string name="cybrid_client_id">{i}</string>
    <string name="cybrid_client_secret">{s}</string>
    <string name="welcome">Welcome back</string>
</resources>
""")
i, s = pair("app_config")
write("shapes/dotnet/Payments/App.config", f"""<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <appSettings>
    <add key="Logging:Level" value="Information"/>
    <add key="Cybrid:ClientId" value="{i}"/>
    <add key="Cybrid:ClientSecret" value="{s}"/>
  </appSettings>
</configuration>
""")
i, s = pair("ts_fallback")
write("shapes/web/src/environments/environment.ts", f"""export const environment = {{
  production: false,
  bankApiUrl: process.env.BANK_API_URL || 'http://localhost:3000',
  clientId: process.env.CYBRID_CLIENT_ID || '{i}',
  clientSecret: process.env.CYBRID_CLIENT_SECRET ?? '{s}',
}};
""")
i, s = pair("py_fallback")
write("shapes/python/app/settings.py", f"""import os

DEBUG = os.getenv("DEBUG", "0") == "1"
CLIENT_ID = os.getenv("CYBRID_CLIENT_ID", "{i}")
CLIENT_SECRET = os.environ.get("CYBRID_CLIENT_SECRET", "{s}")
""")
i, s = pair("rb_fallback")
write("shapes/ruby/config/initializers/payments.rb", f"""Payments.configure do |config|
  config.client_id = ENV.fetch("CYBRID_CLIENT_ID", "{i}")
  config.client_secret = ENV["CYBRID_CLIENT_SECRET"] || "{s}"
end
""")
i, s = pair("kt_fallback")
write("shapes/kotlin/src/main/kotlin/demo/Env.kt", f"""package demo

object Env {{
    val clientId: String = System.getenv("CYBRID_CLIENT_ID") ?: "{i}"
    val clientSecret: String = System.getenv().getOrDefault("CYBRID_CLIENT_SECRET", "{s}")
}}
""")
i, s = pair("swift_fallback")
write("shapes/swift/Sources/Demo/Env.swift", f"""import Foundation

enum Env {{
    static let clientId = ProcessInfo.processInfo.environment["CYBRID_CLIENT_ID"] ?? "{i}"
    static let clientSecret = ProcessInfo.processInfo.environment["CYBRID_CLIENT_SECRET"] ?? "{s}"
}}
""")
i, s = pair("sh_fallback")
write("shapes/shell/start.sh", f"""#!/bin/sh
set -eu
CLIENT_ID="${{CYBRID_CLIENT_ID:-{i}}}"
CLIENT_SECRET="${{CYBRID_CLIENT_SECRET:-{s}}}"
exec ./server --client-id "$CLIENT_ID" --client-secret "$CLIENT_SECRET"
""")
i, s = pair("terraform")
write("shapes/terraform/variables.tf", f"""variable "region" {{
  type    = string
  default = "us-east-1"
}}

variable "cybrid_client_id" {{
  type        = string
  description = "OAuth client of the payments service"
  default     = "{i}"
}}

variable "cybrid_client_secret" {{
  type        = string
  description = "OAuth client secret of the payments service"
  sensitive   = true
  default     = "{s}"
}}
""")
i, s = pair("toml")
write("shapes/toml/config.toml", f"""[server]
port = 8080
log_level = "info"

[cybrid]
environment = "sandbox"
client_id = "{i}"
client_secret = "{s}"

[database]
url = "postgres://localhost/payments"
""")
i, s = pair("yaml_nested")
filler = "".join(f"    retry_{k}: {k}\n" for k in range(12))
write("shapes/yaml/application.yml", f"""payments:
  cybrid:
    environment: sandbox
    timeouts:
      connect: 5
      read: 30
{filler}    credentials:
      client_id: {i}
      client_secret: {s}
  ledger:
    url: http://ledger.internal
""")
i, s = pair("json_nested")
write("shapes/json/appsettings.json", json.dumps({
    "Logging": {"LogLevel": {"Default": "Information"}},
    "Cybrid": {
        "Environment": "sandbox",
        "Retry": {"Count": 3, "DelaySeconds": 2, "MaxDelaySeconds": 30},
        "Features": {"Trades": True, "Transfers": True, "Deposits": False, "Withdrawals": False},
        "Auth": {"ClientId": i, "ClientSecret": s},
    },
    "AllowedHosts": "*",
}, indent=2) + "\n")
i, s = pair("helm")
write("shapes/helm/values.yaml", f"""replicaCount: 2
image:
  repository: registry.example.com/payments
  tag: "1.4.2"
cybrid:
  enabled: true
  environment: sandbox
  resources:
    limits:
      cpu: 500m
      memory: 256Mi
  auth:
    clientId: {i}
    clientSecret: {s}
""")
i, s = pair("compose")
write("shapes/compose/docker-compose.yml", f"""services:
  db:
    image: postgres:16
  cybrid-worker:
    image: registry.example.com/worker:latest
    depends_on: [db]
    environment:
      LOG_LEVEL: debug
      CLIENT_ID: {i}
      CLIENT_SECRET: {s}
""")
i, s = pair("actions")
write("shapes/actions/.github/workflows/e2e.yml", f"""name: e2e
on: [push]
env:
  NODE_VERSION: 20
  CYBRID_CLIENT_ID: {i}
  CYBRID_CLIENT_SECRET: {s}
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: npm test
""")
i, s = pair("k8s")
write("shapes/k8s/payments-secret.yaml", f"""apiVersion: v1
kind: Secret
metadata:
  name: cybrid-api
  namespace: payments
type: Opaque
stringData:
  client_id: {i}
  client_secret: {s}
""")
hi, s = hexid(), b64(); S["hex_id"] = (hi, s); g = hexid()
write("shapes/env/legacy.env", f"""CYBRID_BANK_GUID={g}
CYBRID_CLIENT_ID = '{hi}'
CYBRID_CLIENT_SECRET = '{s}'
""")
i, s = pair("constants")
write("shapes/js/cybrid.js", f"""// Cybrid sandbox app (demo)
const CYBRID_CLIENT_ID = '{i}';
const CYBRID_CLIENT_SECRET = '{s}';
const CYBRID_IDP = "https://id.production.cybrid.app/oauth/token";
""")
i, s = pair("readme")
write("shapes/docs/README.md", f"""# Wallet demo

Put your credentials in `~/.gradle/gradle.properties`:

```
CybridAPI_ID = {i}
CybridAPI_Secret = {s}
```
""")
tok = jwt({"iss": "http://api-idp.local.cybrid.com:3000", "aud": ["http://api-bank.local.cybrid.com:3000"],
           "iat": 1690000000, "exp": 1690001800, "sub": hexid(), "sub_type": "customer",
           "scope": ["customers:read", "accounts:read"], "jti": b64(8)})
S["local_jwt"] = (None, tok)
write("shapes/transcripts/customer-token.txt", f"""$ curl -s http://api-bank.local.cybrid.com:3000/api/customers/{hexid()} \\
    -H 'Authorization: Bearer {tok}'
{{"guid":"{hexid()}","type":"individual","state":"verified"}}
""")

# ---------- project context ----------
i, s = pair("karma"); g = hexid()
write("project/package.json", json.dumps({
    "name": "wallet-web", "version": "1.0.0", "private": True,
    "dependencies": {"@angular/core": "^17.0.0", "@cybrid/cybrid-api-bank-angular": "^0.123.0"},
}, indent=2) + "\n")
write("project/karma.conf.js", f"""module.exports = function (config) {{
  config.set({{
    frameworks: ['jasmine'],
    client: {{
      env: {{ CLIENT_ID_PLAID: '{i}', CLIENT_SECRET_PLAID: '{s}', CUSTOMER_GUID_PLAID: '{g}' }},
    }},
    browsers: ['ChromeHeadless'],
  }});
}};
""")
i, s = pair("component")
write("project/src/app/login/login.component.ts", f"""import {{ Component }} from '@angular/core';

@Component({{ selector: 'app-login', templateUrl: './login.component.html' }})
export class LoginComponent {{
  readonly publicClientId = '{i}';
  readonly publicClientSecret = '{s}';
}}
""")
i, s = pair("bundle")
body = ";".join(f"function f{k}(a){{return a*{k}}}" for k in range(300))
cred = json.dumps({"publicClientId": i, "publicClientSecret": s, "scope": "banks:read"}, separators=(",", ":"))
write("project/dist/main.js", body + f";var env={{production:!0,credentials:JSON.parse('{cred}')}};" + body + "\n")

# the same shapes outside any Cybrid project: nothing may be reported
write("not-a-project/package.json", json.dumps({"name": "other-app", "dependencies": {"@angular/core": "^17.0.0"}}, indent=2) + "\n")
write("not-a-project/karma.conf.js", f"""module.exports = function (config) {{
  config.set({{ client: {{ env: {{ CLIENT_ID: '{b64()}', CLIENT_SECRET: '{b64()}' }} }} }});
}};
""")

# ---------- negatives ----------
write("shapes-negatives/mixed.env", f"""# Cybrid sandbox
CYBRID_BANK_GUID={hexid()}
CYBRID_CUSTOMER_GUID={hexid()}
AUTH0_CLIENT_ID={b64()}
AUTH0_CLIENT_SECRET={b64()}
OKTA_CLIENT_SECRET={b64()}
GOOGLE_CLIENT_SECRET={b64()}
STRIPE_SECRET_KEY=sk_live_{b64(24)}
PLAID_SECRET={b64()}
CYBRID_BASE_URL=https://bank.sandbox.cybrid.app
""")
write("shapes-negatives/placeholders.env", """CYBRID_CLIENT_ID=your_client_id
CYBRID_CLIENT_SECRET=your_secret
CYBRID_CLIENT_SECRET_DOCS=<Your Secret>
CYBRID_CLIENT_SECRET_X=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
CYBRID_CLIENT_SECRET_EMPTY=""
CYBRID_CLIENT_SECRET_MASKED=***
CYBRID_CLIENT_SECRET_STARS=*******************************************
""")
write("shapes-negatives/lookups.ts", """export const cybrid = {
  authUrl: 'https://id.sandbox.cybrid.app/oauth/token',
  clientId: process.env.CYBRID_CLIENT_ID || '',
  clientSecret: process.env.CYBRID_CLIENT_SECRET,
  bankGuid: process.env.CYBRID_BANK_GUID ?? '',
};
""")
write("shapes-negatives/settings.py", f"""import os
CYBRID_URL = "https://bank.sandbox.cybrid.app"
SECRET_KEY = '{b64()}'
JWT_SECRET = '{b64()}'
CYBRID_CLIENT_SECRET = os.getenv("CYBRID_CLIENT_SECRET")
""")
write("shapes-negatives/providers.yaml", f"""cybrid:
  environment: sandbox
auth0:
  client_id: {b64()}
  client_secret: {b64()}
""")
write("shapes-negatives/guid-ids.env", f"""CYBRID_BANK_GUID={hexid()}
CYBRID_ORGANIZATION_GUID={hexid()}
customer_guid: {hexid()}
""")

# ---------- Android builds (a Cybrid project by its build.gradle.kts) ----------
write("shapes-android/settings.gradle.kts", """rootProject.name = "wallet"
include(":app")
""")
i, s = pair("gradle_field")
write("shapes-android/app/build.gradle.kts", f"""plugins {{
    id("com.android.application")
}}

android {{
    namespace = "app.example.wallet"
    buildTypes {{
        getByName("debug") {{
            buildConfigField("String", "CYBRID_CLIENT_ID", "\\"{i}\\"")
            buildConfigField("String", "CYBRID_CLIENT_SECRET", "\\"{s}\\"")
        }}
    }}
}}

dependencies {{
    implementation("app.cybrid:cybrid-api-bank-kotlin:0.120.0")
}}
""")
i, s = pair("build_config")
write("shapes-android/app/build/generated/source/buildConfig/debug/app/example/wallet/BuildConfig.java",
      f"""/**
 * Automatically generated file. DO NOT MODIFY
 */
package app.example.wallet;

public final class BuildConfig {{
  public static final boolean DEBUG = Boolean.parseBoolean("true");
  public static final String APPLICATION_ID = "app.example.wallet";
  public static final String BUILD_TYPE = "debug";
  // Field from build type: debug
  public static final String CLIENT_ID = "{i}";
  // Field from build type: debug
  public static final String CLIENT_SECRET = "{s}";
}}
""")
# Gradle's execution history keeps the GenerateBuildConfig task's inputs as
# Java-serialized BuildConfigField objects: each field's name, then the
# serialized object (class descriptor, comment, type), then its value as a
# Java string literal (length-prefixed), and the next field's name right after.
i, s = pair("execution_history")
def jstr(text):
    b = text.encode()
    return b"t" + len(b).to_bytes(2, "big") + b
def field(name, value):
    return (bytes([0x80 | len(name)]) + name.encode() + b"\x15\x01\x10" + rng.randbytes(16)
            + b"\xe7\x01\xac\xed\x00\x05sr\x00.com.android.build.api.variant.BuildConfigField"
            + rng.randbytes(8) + b"\x02\x00\x03L\x00\x07commentt\x00\x12Ljava/lang/String;"
            + b"L\x00\x04typeq\x00~\x00\x01L\x00\x05valuet\x00\x16Ljava/io/Serializable;xp"
            + jstr("Field from build type: debug") + jstr("String") + jstr('"' + value + '"') + b"\x03")
blob = (b"\x00" * 64 + b"\x00\xbdcom.android.build.gradle.tasks.GenerateBuildConfig_Decorated" + rng.randbytes(16)
        + b"\n\x8eapplicationId\x03\x92app.example.wallet\x8ebuildTypeName\x03\x86debug\x0b\x86items\x0e\x02\x03"
        + field("CLIENT_ID", i) + field("CLIENT_SECRET", s)
        + b"\x88library\x02\x8anamespace\x03\x92app.example.wallet" + rng.randbytes(64))
path = os.path.join(ROOT, "shapes-android/.gradle/8.2/executionHistory/executionHistory.bin")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "wb") as f:
    f.write(blob)

# ---------- webhook signing keys: documentation examples vs configuration ----------
def hex64():
    return rng.randbytes(32).hex()
k = hex64(); S["webhook_openapi"] = (None, k)
write("shapes-docs/openapi/cybrid-bank.yaml", f"""openapi: 3.0.1
info:
  title: Cybrid Bank API
servers:
  - url: https://bank.sandbox.cybrid.app
paths:
  /api/subscriptions:
    post:
      summary: Create subscription
      responses:
        '201':
          description: subscription created
components:
  schemas:
    Subscription:
      type: object
      properties:
        guid:
          type: string
        url:
          type: string
        signing_key:
          type: string
          description: HMAC-SHA256 key of X-Cybrid-Signature, shown once
      example:
        guid: {hexid()}
        url: https://example.com/webhooks
        signing_key: {k}
""")
k = hex64(); S["webhook_markdown"] = (None, k)
write("shapes-docs/docs/webhooks.md", f"""# Cybrid webhooks

Every delivery carries an `X-Cybrid-Signature` header computed with the subscription's signing key.
Create a subscription with `POST https://bank.sandbox.cybrid.app/api/subscriptions`.

### Example response

```json
{{
  "guid": "{hexid()}",
  "url": "https://example.com/webhooks",
  "signing_key": "{k}"
}}
```
""")
k = hex64(); S["webhook_config"] = (None, k)
write("shapes-docs/deploy/receiver.env", f"""# Cybrid webhook receiver
CYBRID_WEBHOOK_SIGNING_KEY={k}
""")

k = hex64(); S["webhook_scraped"] = (None, k)
write("shapes-docs/docs/subscriptions.md", f"""## Register the endpoint

RequestResponse

```shell
curl -X POST 'https://bank.sandbox.cybrid.app/api/subscriptions' \\
  --data '{{"name": "orders", "type": "webhook", "url": "https://example.com/hooks"}}'
```

```
{{
    "guid": "{hexid()}",
    "type": "webhook",
    "signing_key": "{k}"
}}
```
""")

json.dump({k: {"client_id": v[0], "secret": v[1]} for k, v in S.items()},
          open(os.path.join(ROOT, "shapes-values.json"), "w"), indent=1)
print("wrote", len(S), "shapes")
