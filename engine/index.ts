// The engine's TypeScript API: the same verbs as `isolab engine`.
import type { LinuxResources } from './spec/oci.js';
import { DEFAULT_ROOT, StateStore } from './state.js';
import { createContainer, type CreateOptions } from './container/create.js';
import { startContainer } from './container/start.js';
import { killContainer } from './container/kill.js';
import { deleteContainer } from './container/delete.js';
import { execInContainer, execAndWait, type ExecOptions } from './container/exec.js';
import { listContainers, psContainer, stateOf, statsOf } from './container/query.js';
import { pauseContainer, resumeContainer } from './container/pause.js';
import { updateContainer } from './container/update.js';
import { runContainer, waitContainer, type RunOptions } from './container/run.js';
import { watchEvents, type ContainerEvent, type EventOptions } from './container/events.js';
import { collectGarbage } from './container/gc.js';

export { IsolabError } from './errors.js';
export type { ContainerState, ContainerStats } from './container/query.js';
export type { ExecResult, ExecHandle, ExecOptions } from './container/exec.js';
export type { ContainerEvent } from './container/events.js';
export type { ExitRecord } from './state.js';

/** A container engine bound to one state root. */
export class Engine {
  readonly store: StateStore;

  constructor(root: string = DEFAULT_ROOT) {
    this.store = new StateStore(root);
  }

  async create(id: string, bundle: string, options?: CreateOptions) {
    const { record, session } = await createContainer(this.store, id, bundle, options);
    session.detach();
    return record;
  }

  start(id: string) { return startContainer(this.store, id); }
  run(id: string, bundle: string, options?: RunOptions) { return runContainer(this.store, id, bundle, options); }
  wait(id: string, timeoutMs?: number) { return waitContainer(this.store, id, timeoutMs); }
  exec(id: string, args: string[], options?: ExecOptions) { return execInContainer(this.store, id, args, options); }
  execAndWait(id: string, args: string[], options?: ExecOptions) { return execAndWait(this.store, id, args, options); }
  kill(id: string, signal?: string | number, all?: boolean) { return killContainer(this.store, id, signal, all); }
  delete(id: string, force?: boolean) { return deleteContainer(this.store, id, force); }
  state(id: string) { return stateOf(this.store, id); }
  list() { return listContainers(this.store); }
  ps(id: string) { return psContainer(this.store, id); }
  pause(id: string) { return pauseContainer(this.store, id); }
  resume(id: string) { return resumeContainer(this.store, id); }
  update(id: string, resources: LinuxResources) { return updateContainer(this.store, id, resources); }
  stats(id: string) { return statsOf(this.store, id); }
  events(id: string, emit: (e: ContainerEvent) => void, options?: EventOptions) {
    return watchEvents(this.store, id, emit, options);
  }
  gc() { return collectGarbage(this.store); }
}
