// Run by docker-compose.yml's mongodb-init (mongosh): makes the MongoDB container a
// single-node replica set named rs0 the first time, then waits until it is primary, so
// the services start against a writable database. Running it again changes nothing.
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongodb:27017" }] });
  print("mongodb-init: replica set rs0 initiated");
}
const deadline = Date.now() + 60000;
while (!db.hello().isWritablePrimary) {
  if (Date.now() > deadline) throw new Error("mongodb-init: no primary after 60 s");
  sleep(200);
}
print("mongodb-init: rs0 has a primary");
