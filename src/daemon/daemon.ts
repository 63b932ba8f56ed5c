import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DaemonConfig } from './config';
import type { Logger } from '../util/logger';
import { messageOf } from '../errors';
import { LocalContentStore } from '../content/local/store';
import { OverlaySnapshotter } from '../snapshots/overlay/snapshotter';
import { migrateLegacyLayout } from '../snapshots/overlay/legacy-layout';
import { listMountsUnder } from '../snapshots/overlay/mountinfo';
import { SnapshotUnpacker } from '../snapshots/unpacker';
import { LocalContainerSnapshots } from '../snapshots/container-snapshots';
import { ImageMetadataStore } from '../metadata/images';
import { readImageReferences } from '../metadata/image-references';
import { ImageService } from '../engine/images/image-service';
import { ContainerStore } from '../metadata/containers';
import { LeaseManager } from '../metadata/leases';
import { GarbageCollector, contentCollectable, rootfsCollectable } from '../metadata/gc';
import { layerSnapshots } from '../snapshots/collectable';
import { RuncDriver } from '../runtime/driver/runc-driver';
import { defaultRuntimeBinary, runtimeFlavor } from '../runtime/runc/runtime-flavor';
import { RuncTaskRuntime } from '../runtime/task/runc-task';
import { LocalVolumes } from '../volumes/local-volumes';
import { EventBus } from '../engine/events/event-bus';
import { ContainerService } from '../engine/containers/container-service';
import { HealthMonitor } from '../engine/health/health-monitor';
import { ExecService } from '../engine/exec/exec-service';
import { SystemService } from '../engine/system/system-service';
import { ContainersBackendImpl } from '../engine/containers/containers-backend';
import { ExecBackendImpl } from '../engine/exec/exec-backend';
import { SystemBackendImpl } from '../engine/system/system-backend';
import { ImagesBackendImpl } from '../engine/images/images-backend';
import { ImageLookupAdapter } from '../engine/images/image-lookup';
import { diskUsage } from '../engine/system/disk-usage';
import { BootstrapBackendImpl } from '../engine/images/bootstrap-backend';
import { addBootstrapRoutes } from '../api/server/routes/bootstrap';
import { VolumeService } from '../engine/volumes/volume-service';
import { addVolumeRoutes } from '../api/server/routes/volumes';
import { addBuildRoutes } from '../api/server/routes/build';
import { ContextBuildBackend } from '../builder/build-backend';
import { createApiServer } from '../api/server/server';
import { addNetworkRoutes } from '../api/server/routes/networks';
import { NetworkStore } from '../network/store';
import { BridgeDriver } from '../network/bridge/bridge-driver';
import { bridgeOwnerTag } from '../network/bridge/steps';
import { Sandboxes } from '../network/sandbox';
import { hostRoutes } from '../network/ipam/host-routes';
import { NetworkService } from '../engine/networks/network-service';
import { ContainerNetworking } from '../engine/networks/container-networking';
import { NetworksBackendImpl } from '../engine/networks/networks-backend';
import { native, UnmountFlags } from '../native';
import { secureDataRoot } from './data-root-permissions';
import { RegistryClient } from '../registry/client/hosts';
import { RegistryBackendImpl } from '../engine/registry/registry-backend';
import { addRegistryRoutes } from '../api/server/routes/registry';
import { addBerthBuildRoutes } from '../api/server/routes/berth-build';
import { BuildStateLookup } from '../builder/executor/build-state-lookup';
import { prepareWorkRoot } from '../builder/executor/step-snapshot';
import { LazyImageBuilder } from '../builder/lazy-builder';
import { BuildCache } from '../builder/executor/build-cache';

export interface RunningDaemon {
  /** Stops serving; running containers keep running under their monitors. */
  stop(): Promise<void>;
}

/**
 * The composition root: builds stores, drivers and services, restores state left by an
 * earlier run (re-adopting live containers, unmounting orphan mounts), then serves the API.
 */
export async function startDaemon(config: DaemonConfig, logger: Logger): Promise<RunningDaemon> {
  const { dataRoot, execRoot } = config;
  await fs.mkdir(dataRoot, { recursive: true, mode: 0o711 });
  await fs.mkdir(execRoot, { recursive: true, mode: 0o711 });

  const content = new LocalContentStore(path.join(dataRoot, 'content'));
  const snapshotsRoot = path.join(dataRoot, 'snapshots');
  const migrated = await migrateLegacyLayout(dataRoot, snapshotsRoot);
  if (migrated.layers + migrated.containers > 0) logger.info('moved layers and container roots into snapshots', { ...migrated });
  const snapshotter = new OverlaySnapshotter(snapshotsRoot);
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const rootfs = new LocalContainerSnapshots(snapshotter, layers, path.join(dataRoot, 'rootfs'));
  await layers.removeAbandoned();
  await rootfs.removeAbandoned();
  // Version 1 image records are migrated at init by reading their manifests and configs.
  const imageMetadata = new ImageMetadataStore(path.join(dataRoot, 'images'), { readReferences: (target) => readImageReferences(content, target) });
  const containerStore = new ContainerStore(path.join(dataRoot, 'containers'));
  const volumes = new LocalVolumes(path.join(dataRoot, 'volumes'));
  const leases = new LeaseManager(path.join(dataRoot, 'metadata', 'leases.journal'));
  const [, , imageMigration] = await Promise.all([content.init(), rootfs.init(), imageMetadata.init(), containerStore.init(), volumes.init(), leases.init()]);
  if (imageMigration.migrated + imageMigration.unreadable > 0) logger.info('migrated image records to schema version 2 (references kept in the records)', { ...imageMigration });
  if (imageMigration.unreadable > 0) logger.warn('image records whose manifest or config cannot be read stay at schema version 1; garbage collection will fail until they are removed', { count: imageMigration.unreadable });
  await secureDataRoot(dataRoot, logger);
  const collector = new GarbageCollector({
    images: imageMetadata,
    containers: containerStore,
    leases,
    content,
    blobs: contentCollectable(content),
    layers: layerSnapshots(snapshotter),
    rootfs: rootfsCollectable(rootfs),
    ingests: content,
    logger,
  });

  const events = new EventBus();
  // One registry client for the daemon: its settings, connections and what each registry answered to a ping.
  const registry = new RegistryClient({ mirrors: config.registryMirrors, insecureRegistries: config.insecureRegistries, certsDir: config.registryCertsDir });
  const images = new ImageService({ content, layers, metadata: imageMetadata, logger, leases, collector, registry });
  // Networks: the default bridge and user networks (rebuilt idempotently at every start,
  // before containers restart by policy), and each container's sandbox, handed to its task.
  const networkStore = new NetworkStore(path.join(dataRoot, 'network'));
  await networkStore.init();
  const networkDriver = new BridgeDriver(bridgeOwnerTag(dataRoot));
  const networkService: NetworkService = new NetworkService({
    store: networkStore,
    driver: networkDriver,
    events,
    logger,
    defaultBridge: config.defaultBridge,
    hostRoutes,
    containerName: (id) => containerStore.find(id)?.Name,
    onUp: (network): Promise<void> => networking.networkUp(network),
    onDown: (network): Promise<void> => networking.networkDown(network),
  });
  await networkService.restore();
  let containers: ContainerService | undefined;
  const networking: ContainerNetworking = new ContainerNetworking({
    networks: networkService,
    store: networkStore,
    driver: networkDriver,
    sandboxes: new Sandboxes(path.join(execRoot, 'netns')),
    events,
    logger,
    defaultBridge: config.defaultBridge,
    bridgeOwner: networkDriver.owner,
    containers: () => containers!,
  });
  await networking.startDns();
  // The runtime's state lives in a dir named after its flavor: the two keep different files.
  const runtimeBinary = config.runtimePath ?? (await defaultRuntimeBinary());
  const runtimeRoot = path.join(execRoot, runtimeFlavor(runtimeBinary));
  const runtime = new RuncTaskRuntime(new RuncDriver({ runtimeRoot, execRoot, logger, runcBinary: runtimeBinary, runcTimeoutMs: config.runtimeTimeoutMs }), networking);
  // The containers' image lookup also resolves the states of builds in flight (a RUN step's container).
  const imageLookup = new BuildStateLookup(new ImageLookupAdapter(images));
  containers = new ContainerService({
    store: containerStore,
    images: imageLookup,
    rootfs,
    runtime,
    volumes,
    events,
    logger,
    networking,
  });
  const execs = new ExecService({ containers, events, logger });

  await containers.restore();
  // After restore: the probes of the containers still running resume (as dockerd's restore).
  const health = new HealthMonitor({ containers, execs, events, logger });
  await health.start();
  await unmountOrphans(rootfs, containers, logger);
  await networking.sweep().catch((err: unknown) => logger.error('network sweep at start failed', { error: messageOf(err) }));

  const imagesBackend = new ImagesBackendImpl(images, containers, events, registry);
  // The Dockerfile executor (an ImageBuilder, src/builder/types.ts): POST /build and berth build run through it.
  // Its work root is cleaned now; the executor itself is loaded on the first build.
  const workRoot = path.join(dataRoot, 'builder');
  const buildCache = new BuildCache(path.join(workRoot, 'cache'), leases, collector, layers);
  await prepareWorkRoot(workRoot, snapshotter);
  await buildCache.init();
  const builder = new LazyImageBuilder(() => {
    const { DockerfileExecutor } = require('../builder/executor/executor') as typeof import('../builder/executor/executor');
    return new DockerfileExecutor({ images, containers, rootfs, snapshotter, layers, lookup: imageLookup, workRoot, logger, cache: buildCache });
  }, buildCache);
  // Orphans a crash left (blobs, layers, RW roots, the leases of operations that died with
  // the last daemon) go now; later, a collection follows removals in the background.
  await collector.collect().catch((err: unknown) => logger.error('garbage collection at start failed; nothing was removed', { error: messageOf(err) }));
  events.listen((e) => {
    if ((e.Type === 'container' && e.Action === 'destroy') || (e.Type === 'image' && e.Action === 'delete')) collector.schedule();
  });
  const system = new SystemService({ registry: registry.settings, containers, countImages: async () => (await images.list({ all: false })).length, paths: { dataRoot, execRoot }, eventListeners: () => events.listenerCount, debug: config.logLevel === 'debug', runtimePath: runtimeBinary });
  const systemBackend = new SystemBackendImpl({ system, events, diskUsage: (types) => diskUsage({ types, images, imagesBackend, containers, volumes, buildCache: builder.cache }) });
  const buildBackend = new ContextBuildBackend(builder, path.join(dataRoot, 'builder', 'contexts'));
  await buildBackend.init();
  const server = createApiServer(
    {
      containers: new ContainersBackendImpl(containers, { volumes, rootfs, images: imagesBackend, execIdsOf: (id) => execs.idsFor(id), networkView: (c) => networking.settings(c) }),
      exec: new ExecBackendImpl(execs),
      images: imagesBackend,
      system: systemBackend,
    },
    {
      logger,
      socketPath: config.socketPath,
      extraRoutes: [(router) => addBootstrapRoutes(router, new BootstrapBackendImpl(images, events)), (router) => addVolumeRoutes(router, new VolumeService(volumes, containers!, events)), (router) => addNetworkRoutes(router, new NetworksBackendImpl(networkService, networking)), (router) => addBuildRoutes(router, buildBackend), (router) => addRegistryRoutes(router, new RegistryBackendImpl(registry)), (router) => addBerthBuildRoutes(router, builder)],
    },
  );
  await server.listen();
  events.publish('daemon', 'start', system.version().Version as string);

  return {
    async stop() {
      systemBackend.shutdown();
      await server.close();
      registry.close();
      health.stop();
      containers.detachAll();
      // Task cleanups a removal left running; monitors a create started ahead for a start that never came.
      await runtime.quiesce?.();
      await collector.stop();
      await Promise.all([imageMetadata.close(), containerStore.close(), leases.close()]);
    },
  };
}

/** Unmounts container roots left mounted by a crash, except those of running containers. */
async function unmountOrphans(rootfs: LocalContainerSnapshots, containers: ContainerService, logger: Logger): Promise<void> {
  const live = new Set(
    containers
      .list()
      .filter((c) => c.State.Status === 'running' || c.State.Status === 'paused')
      .map((c) => rootfs.mountPoint(c.Id)),
  );
  const known = new Set(containers.list().map((c) => c.Id));
  for (const mount of await listMountsUnder(rootfs.mountRoot)) {
    if (live.has(mount)) continue;
    try {
      native.umount(mount, UnmountFlags.MNT_DETACH);
      logger.info('unmounted orphan mount', { mount });
    } catch (err) {
      logger.warn('cannot unmount orphan mount', { mount, error: messageOf(err) });
    }
  }
  for (const id of await rootfs.list()) {
    if (!known.has(id)) {
      logger.info('removing orphan container root file system', { id });
      await rootfs.remove(id).catch((err: unknown) => logger.warn('cannot remove orphan rootfs', { id, error: messageOf(err) }));
    }
  }
}
