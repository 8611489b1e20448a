/**
 * TokenReview, SubjectAccessReview and TokenRequest on both servers: the fake's answers are
 * checked against the same expectations a real kube-apiserver meets (tests/real_apiserver).
 */
import assert from "node:assert/strict";
import { acquireServer, serverTest, type TestApiServer } from "../support/api_servers.ts";

const NS = "review-test";
const OTHER_NS = "review-other";
const RBAC = "/apis/rbac.authorization.k8s.io/v1";

async function create(server: TestApiServer, path: string, body: unknown): Promise<void> {
  const reply = await server.request("POST", path, { body });
  assert.ok(reply.status === 201 || reply.status === 409, `${path}: ${JSON.stringify(reply.body)}`);
}

function accessReview(spec: unknown) {
  return { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec };
}

serverTest(
  "access reviews answer from RBAC, are create-only, and validate like the real ones",
  async (t) => {
    const server = await acquireServer();
    try {
      for (const name of [NS, OTHER_NS]) {
        await create(server, "/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name },
        });
      }
      await create(server, `/api/v1/namespaces/${NS}/serviceaccounts`, {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "reader" },
      });
      await create(server, `${RBAC}/namespaces/${NS}/roles`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: "lease-reader" },
        rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"] }],
      });
      await create(server, `${RBAC}/namespaces/${NS}/rolebindings`, {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        metadata: { name: "reader-leases" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "lease-reader" },
        subjects: [{ kind: "ServiceAccount", name: "reader", namespace: NS }],
      });
      const user = `system:serviceaccount:${NS}:reader`;

      await t.step(
        "TokenRequest gives a token TokenReview resolves to the ServiceAccount",
        async () => {
          const issued = await server.request(
            "POST",
            `/api/v1/namespaces/${NS}/serviceaccounts/reader/token`,
            { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} } },
          );
          assert.equal(issued.status, 201);
          assert.equal(issued.body.kind, "TokenRequest");
          assert.ok(Date.parse(issued.body.status.expirationTimestamp) > Date.now());
          const review = await server.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {
              body: {
                apiVersion: "authentication.k8s.io/v1",
                kind: "TokenReview",
                spec: { token: issued.body.status.token },
              },
            },
          );
          assert.equal(review.status, 201);
          assert.equal(review.body.kind, "TokenReview");
          assert.equal(review.body.status.authenticated, true);
          assert.equal(review.body.status.user.username, user);
          assert.deepEqual(
            [...review.body.status.user.groups].sort(),
            ["system:authenticated", "system:serviceaccounts", `system:serviceaccounts:${NS}`],
          );
        },
      );

      await t.step(
        "an unknown token is not authenticated, with an error; none is a 400",
        async () => {
          const review = await server.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {
              body: {
                apiVersion: "authentication.k8s.io/v1",
                kind: "TokenReview",
                spec: { token: "nope" },
              },
            },
          );
          assert.equal(review.status, 201);
          assert.notEqual(review.body.status.authenticated, true);
          assert.ok(review.body.status.error);
          const empty = await server.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {
              body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: {} },
            },
          );
          assert.equal(empty.status, 400);
          assert.match(empty.body.message, /token is required/);
        },
      );

      await t.step("a TokenRequest for a missing ServiceAccount is 404", async () => {
        const reply = await server.request(
          "POST",
          `/api/v1/namespaces/${NS}/serviceaccounts/ghost/token`,
          { body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: {} } },
        );
        assert.equal(reply.status, 404);
        assert.equal(reply.body.message, `serviceaccounts "ghost" not found`);
      });

      await t.step(
        "a RoleBinding grants in its namespace only; no rule means not allowed",
        async () => {
          const ask = async (namespace: string, verb: string) => {
            const reply = await server.request(
              "POST",
              "/apis/authorization.k8s.io/v1/subjectaccessreviews",
              {
                body: accessReview({
                  user,
                  groups: ["system:serviceaccounts", "system:authenticated"],
                  resourceAttributes: {
                    namespace,
                    verb,
                    group: "coordination.k8s.io",
                    resource: "leases",
                  },
                }),
              },
            );
            assert.equal(reply.status, 201);
            assert.equal(reply.body.kind, "SubjectAccessReview");
            return reply.body.status.allowed;
          };
          assert.equal(await ask(NS, "get"), true);
          assert.equal(await ask(NS, "delete"), false);
          assert.equal(await ask(OTHER_NS, "get"), false);
        },
      );

      await t.step("system:masters may do anything", async () => {
        const reply = await server.request(
          "POST",
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            body: accessReview({
              user: "someone",
              groups: ["system:masters"],
              nonResourceAttributes: { path: "/metrics", verb: "get" },
            }),
          },
        );
        assert.equal(reply.body.status.allowed, true);
      });

      await t.step("invalid reviews are 422 with the real messages", async () => {
        const neither = await server.request(
          "POST",
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            body: accessReview({ user }),
          },
        );
        assert.equal(neither.status, 422);
        assert.match(
          neither.body.message,
          /exactly one of nonResourceAttributes or resourceAttributes must be specified/,
        );
        const nobody = await server.request(
          "POST",
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            body: accessReview({ nonResourceAttributes: { path: "/metrics", verb: "get" } }),
          },
        );
        assert.equal(nobody.status, 422);
        assert.match(nobody.body.message, /at least one of user or group must be specified/);
      });

      await t.step("reviews cannot be read back (create-only)", async () => {
        for (
          const path of [
            "/apis/authentication.k8s.io/v1/tokenreviews",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          ]
        ) {
          assert.equal((await server.request("GET", path)).status, 405, path);
        }
      });
    } finally {
      await server.release();
    }
  },
);
