// Apollo Server 4 over the services (resolvers.js): the seed design's own stack, set up
// as its documentation shows it — startStandaloneServer (Express underneath), NODE_ENV
// production, no landing page, no stack traces; its parsed-and-validated document cache
// (on by default) is kept. One process, one event loop (like our gateway with WORKERS=1).
//
//   PORT=4010 node apollo.js
'use strict';
const { ApolloServer } = require('@apollo/server');
const { startStandaloneServer } = require('@apollo/server/standalone');
const { ApolloServerPluginLandingPageDisabled } = require('@apollo/server/plugin/disabled');
const { executableSchema, makeContext } = require('./resolvers');

async function main() {
  const server = new ApolloServer({
    schema: executableSchema(),
    plugins: [ApolloServerPluginLandingPageDisabled()],
    includeStacktraceInErrorResponses: false,
  });
  const port = Number(process.env.PORT || 4010);
  const { url } = await startStandaloneServer(server, {
    listen: { port, host: '127.0.0.1' },
    context: async ({ req }) => makeContext(req.headers),
  });
  console.log(`apollo: ${url}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
