// Hearth seen through the npm `fhir-kit-client`: create, read, vread, update, delete and
// history paging with `nextPage`. The server URL comes from HEARTH_BASE_URL
// (e.g. http://127.0.0.1:8080/tenant/default) and the bearer token from HEARTH_TOKEN;
// `tests/clients/run.sh` sets both.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { Client } from 'fhir-kit-client';

const baseUrl = process.env.HEARTH_BASE_URL;
if (!baseUrl) {
  throw new Error('HEARTH_BASE_URL is not set (e.g. http://127.0.0.1:8080/tenant/default)');
}

const bearerToken = process.env.HEARTH_TOKEN;
if (!bearerToken) {
  throw new Error('HEARTH_TOKEN is not set (mint one with `hearth token`)');
}
const client = new Client({ baseUrl, bearerToken });

function patient(family, given = 'Ada') {
  return {
    resourceType: 'Patient',
    identifier: [{ system: 'urn:hearth:test', value: randomUUID() }],
    name: [{ family, given: [given] }],
    gender: 'female',
    birthDate: '1990-04-01',
  };
}

/** The HTTP status of a fhir-kit-client error, or undefined. */
function statusOf(error) {
  return error?.response?.status;
}

test('capability statement is an R4 CapabilityStatement', async () => {
  const cs = await client.capabilityStatement();
  assert.equal(cs.resourceType, 'CapabilityStatement');
  assert.equal(cs.fhirVersion, '4.0.1');
});

test('create, read, vread, update, delete', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('Lovelace') });
  assert.equal(created.resourceType, 'Patient');
  assert.ok(created.id, 'server assigns an id');
  assert.equal(created.meta?.versionId, '1');
  assert.ok(created.meta?.lastUpdated, 'meta.lastUpdated is set');

  const { response } = Client.httpFor(created);
  assert.equal(response.status, 201);
  assert.match(response.headers.get('location') ?? '', new RegExp(`/Patient/${created.id}/_history/1$`));
  assert.equal(response.headers.get('etag'), 'W/"1"');

  const read = await client.read({ resourceType: 'Patient', id: created.id });
  assert.equal(read.id, created.id);
  assert.deepEqual(read.name, [{ family: 'Lovelace', given: ['Ada'] }]);
  assert.equal(read.meta.versionId, '1');

  const changed = { ...read, name: [{ family: 'King', given: ['Ada'] }] };
  const updated = await client.update({ resourceType: 'Patient', id: created.id, body: changed });
  assert.equal(updated.id, created.id);
  assert.equal(updated.meta.versionId, '2');
  assert.equal(updated.name[0].family, 'King');

  const v1 = await client.vread({ resourceType: 'Patient', id: created.id, version: '1' });
  assert.equal(v1.name[0].family, 'Lovelace');
  assert.equal(v1.meta.versionId, '1');

  await client.delete({ resourceType: 'Patient', id: created.id });

  await assert.rejects(
    client.read({ resourceType: 'Patient', id: created.id }),
    (error) => {
      assert.equal(statusOf(error), 410, `read after delete: ${error}`);
      return true;
    },
  );
});

test('read of an unknown id is 404', async () => {
  await assert.rejects(
    client.read({ resourceType: 'Patient', id: `missing-${randomUUID()}` }),
    (error) => {
      assert.equal(statusOf(error), 404, `${error}`);
      return true;
    },
  );
});

test('update as create with a client-chosen id', async () => {
  const id = `fkc-${randomUUID()}`;
  const body = { ...patient('Hopper', 'Grace'), id };
  const created = await client.update({ resourceType: 'Patient', id, body });
  assert.equal(created.id, id);
  assert.equal(created.meta.versionId, '1');
  assert.equal(Client.httpFor(created).response.status, 201);
});

test('instance history pages with _count=2 and nextPage', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('V1') });
  const id = created.id;
  let current = created;
  for (let v = 2; v <= 5; v += 1) {
    current = await client.update({
      resourceType: 'Patient',
      id,
      body: { ...current, name: [{ family: `V${v}`, given: ['Ada'] }] },
    });
    assert.equal(current.meta.versionId, String(v));
  }

  // The whole history in one default-sized page, newest first.
  const all = await client.resourceHistory({ resourceType: 'Patient', id });
  assert.equal(all.resourceType, 'Bundle');
  assert.equal(all.type, 'history');
  assert.deepEqual(
    all.entry.map((e) => e.resource.meta.versionId),
    ['5', '4', '3', '2', '1'],
  );

  // Page size 2: three pages (2 + 2 + 1), followed with nextPage.
  let page = await client.request(`Patient/${id}/_history?_count=2`);
  const versions = [];
  const sizes = [];
  for (let pages = 0; page; pages += 1) {
    assert.ok(pages < 10, 'paging terminates');
    assert.equal(page.type, 'history');
    sizes.push(page.entry?.length ?? 0);
    for (const entry of page.entry ?? []) {
      assert.equal(entry.resource.id, id);
      assert.equal(entry.request?.method, entry.resource.meta.versionId === '1' ? 'POST' : 'PUT');
      versions.push(entry.resource.meta.versionId);
    }
    page = await client.nextPage({ bundle: page });
  }
  assert.deepEqual(sizes, [2, 2, 1]);
  assert.deepEqual(versions, ['5', '4', '3', '2', '1']);
});

test('history shows a delete as an entry without a resource', async () => {
  const created = await client.create({ resourceType: 'Patient', body: patient('Gone') });
  await client.delete({ resourceType: 'Patient', id: created.id });
  const history = await client.resourceHistory({ resourceType: 'Patient', id: created.id });
  assert.equal(history.entry.length, 2);
  const [deleted, first] = history.entry;
  assert.equal(deleted.request.method, 'DELETE');
  assert.equal(deleted.resource, undefined);
  assert.equal(first.resource.meta.versionId, '1');
});

test('transaction with urn:uuid references', async () => {
  const patientUrn = `urn:uuid:${randomUUID()}`;
  const bundle = {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: patientUrn,
        resource: patient('Tx'),
        request: { method: 'POST', url: 'Patient' },
      },
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'Observation',
          status: 'final',
          code: { text: 'heart rate' },
          subject: { reference: patientUrn },
          valueQuantity: { value: 72, unit: '/min' },
        },
        request: { method: 'POST', url: 'Observation' },
      },
    ],
  };
  const reply = await client.transaction({ body: bundle });
  assert.equal(reply.resourceType, 'Bundle');
  assert.equal(reply.type, 'transaction-response');
  assert.equal(reply.entry.length, 2);
  for (const entry of reply.entry) {
    assert.match(entry.response.status, /^201/);
  }
  const patientLocation = reply.entry[0].response.location;
  const [, patientId] = patientLocation.match(/Patient\/([^/]+)/);
  const obsLocation = reply.entry[1].response.location;
  const [, obsId] = obsLocation.match(/Observation\/([^/]+)/);
  const obs = await client.read({ resourceType: 'Observation', id: obsId });
  assert.equal(obs.subject.reference, `Patient/${patientId}`);
});
