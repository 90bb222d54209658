// Azure Database for PostgreSQL Flexible Server for the ledger and the
// aggregates, with Microsoft Entra ID authentication only (password
// authentication off: no login has a password) and the built-in PgBouncer on
// port 6432 in transaction mode. The app logs in as its managed identity with
// an Entra token as the password.
//
// Rights: the Entra administrators (the deploying user or CI principal) have
// the server's admin rights. The app identity is not one of them unless no
// deployer name is given: infra/scripts/ensure-postgres-principal.sh (azd
// postprovision) creates it as an ordinary Entra principal with CONNECT and
// CREATE on its own database only, so it owns the tables its migrations
// create and nothing else (docs/deploy.md §10).
//
// Why PgBouncer: Flex Consumption scales the Function App out to many
// instances and each instance keeps its own sqlx pool, so the server's
// connection limit is the first thing to break. The app connects to port 6432;
// PgBouncer multiplexes up to `pgbouncerMaxClientConnections` client
// connections onto `pgbouncerDefaultPoolSize` server connections per
// user/database pair. Transaction mode cannot keep sqlx's named prepared
// statements, so the app runs with CHARGEBACK_DB_STATEMENT_CACHE=0.
// docs/deploy.md ("Connection arithmetic") has the numbers.

@description('Azure region of the resources.')
param location string

@description('Tags put on every resource.')
param tags object

@description('Server name (becomes <name>.postgres.database.azure.com).')
param serverName string

@description('Database the app uses.')
param databaseName string = 'chargeback'

@description('Compute size. PgBouncer needs General Purpose or Memory Optimized: it is not available on Burstable.')
param skuName string = 'Standard_D2ds_v5'

@allowed(['GeneralPurpose', 'MemoryOptimized'])
param skuTier string = 'GeneralPurpose'

@description('PostgreSQL major version.')
param postgresVersion string = '16'

@description('Storage size in GiB.')
param storageSizeGB int = 32

@description('Server connections PgBouncer opens per user/database pair (pgbouncer.default_pool_size).')
@minValue(1)
param pgbouncerDefaultPoolSize int = 50

@description('Client connections PgBouncer accepts (pgbouncer.max_client_conn): at least maximum instances x pool size per instance.')
@minValue(1)
param pgbouncerMaxClientConnections int = 5000

@description('Entra administrators: objects with objectId, name (display name or app name) and type (User, Group or ServicePrincipal). Normally the deploying principal only; the app identity when no deployer name is known.')
param administrators array

@description('Allow connections from Azure services (Flex Consumption without a virtual network has no fixed outbound address).')
param allowAzureServices bool = true

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: postgresVersion
    storage: {
      storageSizeGB: storageSizeGB
      autoGrow: 'Enabled'
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    highAvailability: {
      mode: 'Disabled'
    }
    backup: {
      backupRetentionDays: 14
      geoRedundantBackup: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// Administrators are added one at a time: the service rejects concurrent changes.
@batchSize(1)
resource admins 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = [
  for admin in administrators: {
    parent: server
    name: admin.objectId
    properties: {
      principalType: admin.type
      principalName: admin.name
      tenantId: tenant().tenantId
    }
  }
]

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Server parameters are changed one after another for the same reason.
resource pgbouncerEnabled 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'pgbouncer.enabled'
  properties: {
    value: 'true'
    source: 'user-override'
  }
  dependsOn: [admins, database]
}

resource pgbouncerPoolMode 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'pgbouncer.pool_mode'
  properties: {
    value: 'TRANSACTION'
    source: 'user-override'
  }
  dependsOn: [pgbouncerEnabled]
}

resource pgbouncerPoolSize 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'pgbouncer.default_pool_size'
  properties: {
    value: string(pgbouncerDefaultPoolSize)
    source: 'user-override'
  }
  dependsOn: [pgbouncerPoolMode]
}

resource pgbouncerMaxClients 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'pgbouncer.max_client_conn'
  properties: {
    value: string(pgbouncerMaxClientConnections)
    source: 'user-override'
  }
  dependsOn: [pgbouncerPoolSize]
}

resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [pgbouncerMaxClients]
}

output serverName string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
