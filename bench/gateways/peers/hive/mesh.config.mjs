// GraphQL Mesh's composition of the services' OpenAPI documents into the supergraph Hive
// Gateway serves (bench/gateways/hive.py runs `mesh-compose` here, then `hive-gateway`).
// Written as the Mesh documentation shows: one OpenAPI subgraph per service, type-name
// prefixes where the documents' component names collide, and the two links Q1 needs
// (a product's category and seller) as batched @resolveTo over the services' batch
// endpoints, so Hive Gateway makes the same three calls per Q1 request as ours.
//
// Environment (hive.py sets it): HIVE_OPENAPI_DIR (the documents, <service>.json),
// PRODUCT_URL, CATEGORY_URL, AUTH_URL.
import { createPrefixTransform, defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const dir = process.env.HIVE_OPENAPI_DIR;
const subgraph = (name, endpoint, prefix) => ({
  sourceHandler: loadOpenAPISubgraph(name, { source: `${dir}/${name}.json`, endpoint }),
  transforms: prefix ? [createPrefixTransform({ value: prefix, includeRootOperations: false })] : [],
});

export const composeConfig = defineConfig({
  subgraphs: [
    subgraph('product', process.env.PRODUCT_URL),
    subgraph('category', process.env.CATEGORY_URL, 'Cat_'),
    subgraph('auth', process.env.AUTH_URL, 'Auth_'),
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type Product {
      category: Cat_Category
        @resolveTo(sourceName: "category", sourceTypeName: "Query", sourceFieldName: "batchCategories",
                   keyField: "categoryId", keysArg: "ids", requiredSelectionSet: "{ categoryId }", result: "items")
      seller: Auth_PublicUser
        @resolveTo(sourceName: "auth", sourceTypeName: "Query", sourceFieldName: "usersBatch",
                   keyField: "sellerId", keysArg: "ids", requiredSelectionSet: "{ sellerId }", result: "items")
    }
  `,
});
