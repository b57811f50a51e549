import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { loadCifar } from "../../src/data/cifar.ts";
import { defaultCacheDir } from "../../src/io/cache.ts";
import { downloadFile } from "../../src/io/download.ts";
import type { DownloadProgress } from "../../src/io/progress.ts";
import { archiveOf, CIFAR10_CLASSES, cifarFixture } from "../data/_cifar_fixture.ts";

const fixture = cifarFixture("cifar10", { trainPerFile: 4, test: 3 });
const archive = await archiveOf("cifar10", fixture.files);
const md5 = createHash("md5").update(archive).digest("hex");

/** Serves the archive at /cifar-10-binary.tar.gz and a 500 everywhere else on 127.0.0.1, counting requests. */
async function withServer(test: (base: string, requests: () => number) => Promise<void>): Promise<void> {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    requests++;
    if (new URL(request.url).pathname === "/cifar-10-binary.tar.gz") {
      return new Response(archive as Uint8Array<ArrayBuffer>, {
        headers: { "content-length": String(archive.length) },
      });
    }
    return new Response("broken", { status: 500, statusText: "Internal Server Error" });
  });
  try {
    await test(`http://127.0.0.1:${server.addr.port}`, () => requests);
  } finally {
    await server.shutdown();
  }
}

async function inTempDir(test: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cifar_download_" });
  try {
    await test(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listing(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

Deno.test("a download with the right MD5 is renamed into place and reports its progress", async () => {
  await withServer(async (base) => {
    await inTempDir(async (dir) => {
      const destination = join(dir, "nested", "cifar-10-binary.tar.gz");
      const reports: DownloadProgress[] = [];
      await downloadFile({
        url: `${base}/cifar-10-binary.tar.gz`,
        destination,
        md5: md5.toUpperCase(),
        onProgress: (p) => reports.push(p),
      });
      assert.deepEqual(await Deno.readFile(destination), archive);
      assert.deepEqual(await listing(join(dir, "nested")), ["cifar-10-binary.tar.gz"]);
      const last = reports.at(-1)!;
      assert.equal(last.done, true);
      assert.equal(last.receivedBytes, archive.length);
      assert.equal(last.totalBytes, archive.length);
      assert.ok(reports.slice(0, -1).every((p) => !p.done && p.receivedBytes <= archive.length));
    });
  });
});

Deno.test("an MD5 mismatch leaves no file and says so", async () => {
  await withServer(async (base) => {
    await inTempDir(async (dir) => {
      const destination = join(dir, "cifar-10-binary.tar.gz");
      await assert.rejects(
        downloadFile({ url: `${base}/cifar-10-binary.tar.gz`, destination, md5: "0".repeat(32) }),
        new RegExp(`MD5 ${md5} does not match the published 0{32}; the file is corrupt`),
      );
      assert.deepEqual(await listing(dir), []);
    });
  });
});

Deno.test("a server error leaves no file and names the status", async () => {
  await withServer(async (base) => {
    await inTempDir(async (dir) => {
      const destination = join(dir, "cifar-10-binary.tar.gz");
      await assert.rejects(
        downloadFile({ url: `${base}/missing.tar.gz`, destination, md5 }),
        /missing\.tar\.gz: the server answered 500 Internal Server Error/,
      );
      assert.deepEqual(await listing(dir), []);
    });
  });
});

Deno.test("a download that breaks off leaves no file and says how far it got", async () => {
  // A raw socket, so that the response can promise more bytes than it sends.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    using connection = await listener.accept();
    await connection.read(new Uint8Array(4096));
    const head = `HTTP/1.1 200 OK\r\ncontent-length: ${archive.length}\r\nconnection: close\r\n\r\n`;
    await connection.write(new TextEncoder().encode(head));
    await connection.write(archive.subarray(0, 100));
  })();
  try {
    await inTempDir(async (dir) => {
      const destination = join(dir, "cifar-10-binary.tar.gz");
      await assert.rejects(
        downloadFile({ url: `http://127.0.0.1:${listener.addr.port}/x.tar.gz`, destination, md5 }),
        /x\.tar\.gz: the (download broke off after 100 bytes|connection closed after 100 of \d+ bytes)/,
      );
      assert.deepEqual(await listing(dir), []);
    });
  } finally {
    await serving;
    listener.close();
  }
});

Deno.test("loadCifar downloads into the cache folder once and reads from it afterwards", async () => {
  await withServer(async (base, requests) => {
    await inTempDir(async (cacheDir) => {
      const options = {
        cacheDir,
        mirror: { url: `${base}/cifar-10-binary.tar.gz`, md5 },
        onProgress: () => {},
      };
      const first = await loadCifar(options);
      assert.equal(first.source, join(cacheDir, "cifar-10-binary.tar.gz"));
      assert.equal(first.train.count, 20);
      assert.equal(first.test.count, 3);
      assert.deepEqual(first.train.classes, CIFAR10_CLASSES);
      assert.equal(requests(), 1);
      const again = await loadCifar({ ...options, download: false });
      assert.deepEqual(again.train.images, first.train.images);
      assert.equal(requests(), 1);
    });
  });
});

Deno.test("offline or with downloads turned off, loadCifar says where to put the file", async () => {
  await inTempDir(async (cacheDir) => {
    const where = join(cacheDir, "cifar-10-binary.tar.gz");
    await assert.rejects(
      loadCifar({ cacheDir, download: false }),
      (error: Error) => {
        assert.match(error.message, /CIFAR-10 is not in .* and downloading is turned off/);
        assert.ok(error.message.includes(`download https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz`));
        assert.ok(error.message.includes(`put it at ${where}`), error.message);
        return true;
      },
    );
    let port = 0;
    await withServer((base) => {
      port = Number(new URL(base).port);
      return Promise.resolve();
    });
    await assert.rejects(
      loadCifar({ cacheDir, mirror: { url: `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`, md5 } }),
      (error: Error) => {
        assert.match(error.message, /could not download CIFAR-10: .*could not connect/);
        assert.ok(error.message.includes(`To use it offline, download`), error.message);
        assert.ok(error.message.includes(`put it at ${where}`), error.message);
        return true;
      },
    );
    assert.deepEqual(await listing(cacheDir), []);
  });
});

Deno.test("the cache folder follows XDG_CACHE_HOME", () => {
  const saved = Deno.env.get("XDG_CACHE_HOME");
  try {
    Deno.env.set("XDG_CACHE_HOME", "/somewhere/cache");
    assert.equal(defaultCacheDir(), "/somewhere/cache/denogpu-resnet");
    Deno.env.delete("XDG_CACHE_HOME");
    assert.match(defaultCacheDir(), /[/\\]\.cache[/\\]denogpu-resnet$/);
  } finally {
    if (saved === undefined) Deno.env.delete("XDG_CACHE_HOME");
    else Deno.env.set("XDG_CACHE_HOME", saved);
  }
});
