// Each namespace in fours: private when asked, shared when not (the control
// that proves the probe can see sharing), joined by exec, and a bad path
// rejected. Inodes are read on the host from /proc/PID/ns.
import { statSync, promises as fs } from 'node:fs';
import { test, expect } from './fixtures.js';
import type { NamespaceType } from '../../engine/spec/oci.js';

const kinds: Record<NamespaceType, string> = {
  pid: 'pid',
  network: 'net',
  mount: 'mnt',
  ipc: 'ipc',
  uts: 'uts',
  user: 'user',
  cgroup: 'cgroup',
  time: 'time',
};

// pid and time namespaces apply to children of the process that made them,
// so their *_for_children links are compared too.
const forChildren: Partial<Record<NamespaceType, string>> = { pid: 'pid_for_children', time: 'time_for_children' };

function inode(pid: number | 'self', kind: string): number {
  return statSync(`/proc/${pid}/ns/${kind}`).ino;
}

const everyNamespace: NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];

/**
 * Namespaces for a container that must have `type` private. A new user
 * namespace may mount proc, sysfs, mqueue and cgroup only in pid, network,
 * ipc and cgroup namespaces it owns, so it brings those along.
 */
function privateSet(type: NamespaceType): NamespaceType[] {
  if (type === 'user') return ['mount', 'pid', 'network', 'ipc', 'uts', 'cgroup', 'user'];
  return ['mount', type];
}

for (const type of everyNamespace) {
  test.describe(`${type} namespace`, () => {
    test('is private when asked', async ({ engine, makeBundle, uniqueId }) => {
      const id = uniqueId(type);
      const bundle = await makeBundle({ args: ['sleep', '30'], namespaces: privateSet(type), userns: type === 'user' });
      const { pid } = await engine.create(id, bundle);
      await engine.start(id);
      expect(inode(pid, kinds[type])).not.toBe(inode('self', kinds[type]));
      const children = forChildren[type];
      if (children) expect(inode(pid, children)).not.toBe(inode('self', children));
    });

    test('is shared when not asked', async ({ engine, makeBundle, uniqueId }) => {
      test.skip(type === 'mount', 'the mount namespace is the one a root filesystem needs; its shared case is covered by pid below');
      const id = uniqueId(type);
      const others = everyNamespace.filter((t) => t !== type && t !== 'user' && t !== 'time' && t !== 'cgroup');
      const bundle = await makeBundle({ args: ['sleep', '30'], namespaces: others });
      const { pid } = await engine.create(id, bundle);
      await engine.start(id);
      expect(inode(pid, kinds[type])).toBe(inode('self', kinds[type]));
    });

    test('is joined by exec', async ({ engine, makeBundle, uniqueId }) => {
      const id = uniqueId(type);
      const bundle = await makeBundle({ args: ['sleep', '30'], namespaces: privateSet(type), userns: type === 'user' });
      const { pid } = await engine.create(id, bundle);
      await engine.start(id);
      const exec = await engine.exec(id, ['sleep', '30']);
      try {
        expect(inode(exec.pid, kinds[type])).toBe(inode(pid, kinds[type]));
        expect(inode(exec.pid, kinds[type])).not.toBe(inode('self', kinds[type]));
      } finally {
        exec.session.child.kill('SIGKILL');
        await exec.done;
      }
    });

    test('rejects a path of another type', async ({ engine, makeBundle, uniqueId }) => {
      const wrong = type === 'uts' ? 'ipc' : 'uts';
      const id = uniqueId(type);
      const bundle = await makeBundle({
        args: ['true'],
        edit: (spec) => {
          const joined = { type, path: `/proc/self/ns/${wrong}` };
          spec.linux!.namespaces = type === 'mount' ? [joined] : [{ type: 'mount' }, joined];
          if (type !== 'uts') delete spec.hostname;
        },
      });
      await expect(engine.create(id, bundle)).rejects.toThrow(new RegExp(`/proc/self/ns/${wrong}`));
      await expect(fs.access(engine.store.dir(id))).rejects.toThrow();
    });
  });
}

test('mount namespace is shared when not asked', async ({ engine, makeBundle, uniqueId }) => {
  const id = uniqueId('mnt-shared');
  const bundle = await makeBundle({ args: ['sleep', '30'], namespaces: ['pid', 'uts'] });
  const { pid } = await engine.create(id, bundle);
  await engine.start(id);
  expect(inode(pid, 'mnt')).toBe(inode('self', 'mnt'));
});

test('namespace path joins that namespace', async ({ engine, makeBundle, uniqueId }) => {
  const first = uniqueId('owner');
  const bundle = await makeBundle({ args: ['sleep', '30'], namespaces: ['mount', 'network', 'ipc'] });
  const { pid } = await engine.create(first, bundle);
  await engine.start(first);
  const second = uniqueId('joiner');
  const joiner = await makeBundle({
    args: ['sleep', '30'],
    edit: (spec) => {
      spec.linux!.namespaces = [{ type: 'mount' }, { type: 'network', path: `/proc/${pid}/ns/net` }, { type: 'ipc', path: `/proc/${pid}/ns/ipc` }];
      delete spec.hostname;
    },
  });
  const joined = await engine.create(second, joiner);
  expect(inode(joined.pid, 'net')).toBe(inode(pid, 'net'));
  expect(inode(joined.pid, 'ipc')).toBe(inode(pid, 'ipc'));
});
