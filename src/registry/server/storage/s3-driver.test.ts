import { after } from 'node:test';
import { randomBytes } from 'node:crypto';
import { s3ServerSkipReason, startS3Server, type TestS3Server } from '../../../../test/helpers/s3-server';
import { S3Driver } from './s3-driver';
import { runStorageDriverSuite } from './testsuite';

/** The conformance suite on a real S3-compatible server process (moto_server), a fresh bucket per case. */
let server: Promise<TestS3Server> | undefined;
after(async () => {
  await (await server)?.stop();
});

runStorageDriverSuite('S3Driver', async () => {
  server ??= startS3Server();
  const s3 = await server;
  const bucket = `berth-${randomBytes(6).toString('hex')}`;
  const drivers: S3Driver[] = [];
  const open = async () => {
    const driver = new S3Driver({ endpoint: s3.endpoint, bucket, prefix: 'registry', accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await driver.init();
    drivers.push(driver);
    return driver;
  };
  return { driver: await open(), reopen: open, cleanup: async () => drivers.forEach((d) => d.close()) };
}, { skip: s3ServerSkipReason() ?? false });
