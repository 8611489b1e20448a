/**
 * Least privilege on a real API server with `--authorization-mode=RBAC`: the operator's
 * identity is the ServiceAccount `kubectl kustomize deploy/base` renders, bound to exactly the
 * rendered Roles. The controller scenarios (tests/release, tests/gc, tests/image, tests/e2e,
 * tests/kube/leader_election_test.ts) run as that identity in their `[real]` variants; this file
 * shows what it must not do. Real server only: the fake has no authorization.
 */
import assert from "node:assert/strict";
import { acquireServer, type Json, serverTestDefinition } from "./support/api_servers.ts";
import { renderDeployRbac } from "./real_apiserver/rbac.ts";

Deno.test(serverTestDefinition(
  "real",
  "the operator's deploy/ identity is refused Secrets and anything beyond its rules",
  async (t) => {
    const server = await acquireServer();
    const operator = server.operator!;
    const transport = server.operatorTransport();
    const asOperator = async (
      method: "GET" | "POST" | "PUT" | "DELETE",
      path: string,
      body?: unknown,
    ) => {
      const response = await transport.fetch({ method, path, body });
      return { status: response.status, body: await response.json() as Json };
    };
    try {
      await t.step("the identity is the rendered ServiceAccount", async () => {
        const rendered = (await renderDeployRbac()).find((m) => m.kind === "ServiceAccount")!;
        assert.equal(
          operator.userName,
          `system:serviceaccount:${rendered.metadata.namespace}:${rendered.metadata.name}`,
        );
        const review = await asOperator(
          "POST",
          "/apis/authentication.k8s.io/v1/selfsubjectreviews",
          { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
        );
        assert.equal(review.status, 201);
        assert.equal(review.body.status.userInfo.username, operator.userName);
      });

      await t.step(
        "reading Secrets is forbidden (403), in its namespace and everywhere",
        async () => {
          await server.request("POST", `/api/v1/namespaces/${operator.namespace}/secrets`, {
            body: { metadata: { name: "provider-credentials" }, stringData: { token: "x" } },
          });
          for (
            const path of [
              `/api/v1/namespaces/${operator.namespace}/secrets`,
              `/api/v1/namespaces/${operator.namespace}/secrets/provider-credentials`,
              "/api/v1/secrets",
            ]
          ) {
            const reply = await asOperator("GET", path);
            assert.equal(reply.status, 403, path);
            assert.equal(reply.body.reason, "Forbidden");
            assert.match(
              reply.body.message,
              new RegExp(`User "${operator.userName}" cannot (get|list) resource "secrets"`),
            );
          }
        },
      );

      await t.step(
        "it may create the two reviews secure metrics need, and is not itself a metrics reader",
        async () => {
          const token = await asOperator("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
            apiVersion: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: { token: operator.token },
          });
          assert.equal(token.status, 201);
          assert.equal(token.body.status.user.username, operator.userName);
          const review = await asOperator(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SubjectAccessReview",
              spec: {
                user: operator.userName,
                groups: token.body.status.user.groups,
                nonResourceAttributes: { path: "/metrics", verb: "get" },
              },
            },
          );
          assert.equal(review.status, 201);
          assert.equal(review.body.status.allowed, false);
          // Its rule is create only: anything else is refused before the method is looked at.
          assert.equal(
            (await asOperator("GET", "/apis/authorization.k8s.io/v1/subjectaccessreviews")).status,
            403,
          );
        },
      );

      await t.step(
        "what its rules allow works; the verbs and places they leave out do not",
        async () => {
          const allowed = [
            "/apis/release.giantswarm.io/v1alpha1/releases",
            "/apis/image.giantswarm.io/v1alpha1/nodeimages",
            `/apis/coordination.k8s.io/v1/namespaces/${operator.namespace}/leases`,
          ];
          for (const path of allowed) {
            assert.equal((await asOperator("GET", path)).status, 200, path);
          }
          const refused: [string, "GET" | "POST" | "PUT" | "DELETE", string, unknown?][] = [
            [
              "Leases outside its namespace",
              "GET",
              "/apis/coordination.k8s.io/v1/namespaces/default/leases",
            ],
            ["creating Releases", "POST", "/apis/release.giantswarm.io/v1alpha1/releases", {
              apiVersion: "release.giantswarm.io/v1alpha1",
              kind: "Release",
              metadata: { name: "vsphere-35.0.0" },
              spec: { components: [], apps: [], date: "2026-01-01T00:00:00Z", state: "active" },
            }],
            ["deleting Releases", "DELETE", "/apis/release.giantswarm.io/v1alpha1/releases/x"],
            [
              "reading Events",
              "GET",
              `/apis/events.k8s.io/v1/namespaces/${operator.namespace}/events`,
            ],
            ["reading ConfigMaps", "GET", `/api/v1/namespaces/${operator.namespace}/configmaps`],
            ["reading Namespaces", "GET", "/api/v1/namespaces"],
            ["changing RBAC", "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"],
          ];
          for (const [what, method, path, body] of refused) {
            assert.equal((await asOperator(method, path, body)).status, 403, what);
          }
        },
      );
    } finally {
      transport.close();
      await server.release();
    }
  },
));
