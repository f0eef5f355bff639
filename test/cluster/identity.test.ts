/**
 * Task identity across machines (src/internal/cluster/taskIdentity.ts) and peer addresses
 * (staticMembership.ts): a task crosses as its module's path under the root; a runner resolves it under its
 * own root only (never outside it), and says why when it cannot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause } from "effect"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { formatPeer, normalizePeers, parsePeer } from "../../src/internal/cluster/staticMembership.ts"
import * as TaskIdentity from "../../src/internal/cluster/taskIdentity.ts"
import { tasks } from "../fixtures/tasks.ts"

const testRoot = new URL("../", import.meta.url).href

describe("task identity", () => {
  it("a root is a directory URL ending with /, from a URL, a URL string or a path", () => {
    assert.strictEqual(TaskIdentity.normalizeRoot(new URL("file:///srv/app")), "file:///srv/app/")
    assert.strictEqual(TaskIdentity.normalizeRoot("file:///srv/app/"), "file:///srv/app/")
    assert.strictEqual(TaskIdentity.normalizeRoot("/srv/app"), "file:///srv/app/")
    assert.strictEqual(TaskIdentity.normalizeRoot("relative/dir"), `${pathToFileURL(Path.resolve("relative/dir")).href}/`)
    assert.strictEqual(TaskIdentity.normalizeRoot(undefined), `${pathToFileURL(process.cwd()).href}/`)
  })

  it("a task's portable id is its module's path under the root and its name; outside the root it has none", () => {
    assert.strictEqual(TaskIdentity.portableId(tasks.square, testRoot), "fixtures/tasks.ts#square")
    const outside = TaskIdentity.portableId(tasks.square, "file:///somewhere/else/")
    assert.isTrue(Cause.isIllegalArgumentError(outside))
  })

  it("a runner resolves a portable id under its root to the task's handle", async () => {
    const handle = await TaskIdentity.resolve("fixtures/tasks.ts#square", testRoot, "r1")
    assert.strictEqual(handle, tasks.square)
  })

  it("a runner refuses an id that leaves its root, names no module or no task, and says which runner", async () => {
    const refusals: Array<[string, string]> = [
      ["../package.json#x", "does not name a task under its root"],
      ["/etc/passwd#x", "does not name a task under its root"],
      ["fixtures/tasks.ts", "does not name a task under its root"],
      ["fixtures/tasks.ts#", "does not name a task under its root"],
      ["fixtures/no-such-module.ts#x", "cannot load the task module fixtures/no-such-module.ts"],
      ["fixtures/tasks.ts#noSuchTask", "exports no task named noSuchTask"],
      ["fixtures/tasks.ts#__proto__", "exports no task named __proto__"]
    ]
    for (const [id, reason] of refusals) {
      const error = await TaskIdentity.resolve(id, testRoot, "127.0.0.1:4000").then(() => undefined, (e) => e)
      assert.instanceOf(error, TaskIdentity.TaskNotFound, id)
      assert.include(error.message, reason, id)
      assert.include(error.message, "127.0.0.1:4000", id)
    }
  })
})

describe("peer addresses", () => {
  it("host:port, IPv6 in brackets; anything else is refused", () => {
    assert.deepStrictEqual(parsePeer("127.0.0.1:4000"), { host: "127.0.0.1", port: 4000 })
    assert.deepStrictEqual(parsePeer(" runner-1.internal:80 "), { host: "runner-1.internal", port: 80 })
    assert.deepStrictEqual(parsePeer("[::1]:4000"), { host: "::1", port: 4000 })
    assert.strictEqual(formatPeer({ host: "::1", port: 4000 }), "[::1]:4000")
    for (const bad of ["nope", "host:", ":4000", "host:0", "host:65536", "host:12ab"]) {
      assert.isUndefined(parsePeer(bad), bad)
    }
  })

  it("every process sees the same list, whatever the order and duplicates it was given", () => {
    const a = normalizePeers([{ host: "b", port: 2 }, { host: "a", port: 1 }, { host: "b", port: 2 }])
    const b = normalizePeers([{ host: "a", port: 1 }, { host: "b", port: 2 }])
    assert.deepStrictEqual(a, b)
  })
})
