// Nachet Functions, pay-per-use: a Function App on the Flex Consumption plan (Python 3.11,
// Linux), its storage account, Azure Database for PostgreSQL Flexible Server behind its
// built-in PgBouncer, a Key Vault holding every secret, Application Insights, App Service
// Authentication, and the Event Grid subscription that feeds process_picture.
// The app reaches storage, Key Vault and Application Insights with one user-assigned
// managed identity: no storage key exists anywhere (shared key access is off).
// README, "Deploying", runs it twice: before publishing the code, then with
// subscribePictureEvents=true once the blob extension's endpoint answers.

@description('Name of the function app: https://<appName>.azurewebsites.net (globally unique).')
@minLength(3)
@maxLength(40)
param appName string

param location string = resourceGroup().location

@description('Origins of the web client, e.g. ["https://nachet.example.org"]: CORS of the app and of the thumbnails.')
@minLength(1)
param webClientOrigins array

@description('Client id of the Microsoft Entra app registration that signs analysts in (App Service Authentication).')
param authClientId string

@description('PostgreSQL administrator login; the app connects as this role.')
param dbAdminLogin string = 'nachet'

@description('PostgreSQL administrator password. Kept only in Key Vault (inside the db-url secret).')
@secure()
param dbAdminPassword string

@description('Fernet key of the pipeline definitions\' endpoints and keys (NACHET_BLOB_PIPELINE_DECRYPTION_KEY).')
@secure()
param pipelineDecryptionKey string

@description('Model endpoint keys: {"<api_key_setting of the model>": "<key>"}; each goes to Key Vault and its app setting references it.')
@secure()
param modelKeys object = {}

@description('Container holding pipeline definitions pipelines/<version>.json (NACHET_BLOB_PIPELINE_NAME); empty: none.')
param blobPipelineContainer string = ''

@description('Pipeline definition version to import (NACHET_BLOB_PIPELINE_VERSION); empty: none.')
param blobPipelineVersion string = ''

@description('Flex Consumption scale-out limit (the platform\'s default is 100); see README, "Many instances".')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([ 512, 2048, 4096 ])
param instanceMemoryMB int = 2048

@description('Database connections per app instance (NACHET_DB_POOL_MAX_SIZE); see README, "Many instances".')
@minValue(1)
param dbPoolMaxSize int = 4

@description('PostgreSQL compute. The built-in PgBouncer needs General Purpose or Memory Optimized (not Burstable).')
param dbSkuName string = 'Standard_D2ds_v5'

@allowed([ 'GeneralPurpose', 'MemoryOptimized' ])
param dbSkuTier string = 'GeneralPurpose'

@description('Server connections PgBouncer opens per user and database (pgbouncer.default_pool_size): Azure advises 2 to 5 per vCore.')
param pgbouncerPoolSize int = 10

@description('Create the Event Grid subscription feeding process_picture: true only once the code is published.')
param subscribePictureEvents bool = false

var suffix = uniqueString(resourceGroup().id, appName)
var storageName = take('nachet${suffix}', 24)
var deploymentContainer = 'app-package'
var picturesContainer = 'nachet-pictures'
var thumbnailsContainer = 'nachet-thumbnails'
var exportsContainer = 'nachet-exports'
var dbName = 'nachet'
var vaultName = take('nachet-${suffix}', 24)
var storagePrefix = 'NACHET_AZURE_STORAGE_CONNECTION_STRING'

// Built-in role definitions.
var roles = {
  blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // blobs, containers, user delegation keys
  queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // the blob trigger's poison queue
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault references
  metricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb' // Application Insights without its key
}

// The app's settings that have a default in shared/settings.py, set here so that operators
// see them in the portal; tests/test_infra.py checks that they equal the app's defaults.
var tuning = {
  NACHET_SCHEMA: 'nachet'
  NACHET_MAX_CONTENT_LENGTH: '64'
  NACHET_VALID_EXTENSION: '["jpeg","jpg","png","gif","bmp","tiff","webp"]'
  NACHET_VALID_DIMENSION: '{"width": 1920, "height": 1080}'
  NACHET_MAX_IMAGE_PIXELS: '40000000'
  NACHET_ARCHIVE_USER_EMAIL: 'archive@nachet.local'
  NACHET_DB_TIMEOUT_S: '5'
  NACHET_MODEL_CONNECT_TIMEOUT_S: '5'
  NACHET_MODEL_READ_TIMEOUT_S: '60'
  NACHET_MODEL_MAX_IN_FLIGHT: '8'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${appName}-id'
  location: location
}

// ---- Storage: host storage, the deployment package, pictures and thumbnails ----

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_43: the name is take('nachet' + uniqueString(...), 24): lowercase letters and digits, which checkov cannot evaluate
  //checkov:skip=CKV_AZURE_35: browsers load thumbnails straight from storage with signed URLs, and Flex Consumption without a virtual network reaches it from shared addresses
  //checkov:skip=CKV_AZURE_59: same reason: public network access stays on; access needs Entra ID or a user delegation SAS
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_GRS' }
  properties: {
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // every client uses the managed identity; URLs use user delegation keys
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
    cors: {
      corsRules: [
        {
          // The browser loads thumbnails straight from storage with read-only signed URLs.
          allowedOrigins: webClientOrigins
          allowedMethods: [ 'GET', 'HEAD' ]
          allowedHeaders: [ '*' ]
          exposedHeaders: [ 'Content-Length', 'Content-Type', 'ETag' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in [ deploymentContainer, picturesContainer, thumbnailsContainer, exportsContainer ]: {
  parent: blobService
  name: name
  properties: { publicAccess: 'None' }
}]

resource storageBlobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.blobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.blobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, roles.queueDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.queueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- PostgreSQL with its built-in PgBouncer (port 6432) ----

resource db 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: '${appName}-pg'
  location: location
  sku: { name: dbSkuName, tier: dbSkuTier }
  properties: {
    version: '16'
    administratorLogin: dbAdminLogin
    administratorLoginPassword: dbAdminPassword
    authConfig: { passwordAuth: 'Enabled', activeDirectoryAuth: 'Disabled' }
    storage: { storageSizeGB: 32, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    network: { publicNetworkAccess: 'Enabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: db
  name: dbName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

var dbParameters = [
  { name: 'pgbouncer.enabled', value: 'true' }
  { name: 'pgbouncer.pool_mode', value: 'transaction' }
  { name: 'pgbouncer.default_pool_size', value: string(pgbouncerPoolSize) }
  { name: 'require_secure_transport', value: 'on' }
]

// One at a time: the server refuses concurrent parameter changes.
@batchSize(1)
resource dbConfig 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = [for p in dbParameters: {
  parent: db
  name: p.name
  properties: { value: p.value, source: 'user-override' }
}]

resource dbFromAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: db
  // Flex Consumption without a virtual network reaches the server from Azure's shared
  // addresses; 0.0.0.0 is the rule that admits them (TLS and the password still apply).
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

// ---- Key Vault: the database URL (with its password), the pipeline key, the model keys ----

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: Key Vault references of a Flex Consumption app without a virtual network come from public addresses; access needs Entra ID and the Secrets User role
  //checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109
  name: vaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }
}

resource vaultSecretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The app goes through PgBouncer (port 6432), in transaction mode (README, "Behind PgBouncer").
resource dbUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  //checkov:skip=CKV_AZURE_41: rotated with the database password, by the operator (README)
  parent: vault
  name: 'db-url'
  properties: {
    contentType: 'PostgreSQL URL with password'
    value: 'postgresql://${dbAdminLogin}:${uriComponent(dbAdminPassword)}@${db.properties.fullyQualifiedDomainName}:6432/${dbName}?sslmode=require'
  }
}

resource pipelineKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  //checkov:skip=CKV_AZURE_41: rotated with the pipeline definitions, by the operator (README)
  parent: vault
  name: 'pipeline-decryption-key'
  properties: { contentType: 'Fernet key', value: pipelineDecryptionKey }
}

resource modelKeySecrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [for entry in items(modelKeys): {
  //checkov:skip=CKV_AZURE_41: rotated with the model endpoints' keys, by the operator (README)
  parent: vault
  name: 'model-${toLower(replace(entry.key, '_', '-'))}'
  properties: { contentType: 'model endpoint key', value: entry.value }
}]

// ---- Monitoring ----

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${appName}-log'
  location: location
  properties: { retentionInDays: 30, sku: { name: 'PerGB2018' } }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${appName}-ai'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true // telemetry is sent with the managed identity
  }
}

resource insightsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: insights
  name: guid(insights.id, identity.id, roles.metricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.metricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- The function app ----

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: zone redundancy on Flex Consumption needs always-ready instances, which are billed while idle
  name: '${appName}-plan'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

var secretsUri = vault.properties.vaultUri
var appSettings = [
  // The Functions host: its storage and the blob trigger's connection, through the identity.
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identity.properties.clientId};Authorization=AAD' }
  // The pictures' storage (shared/settings.py; process_picture's connection): the same
  // account, through the identity; the trigger's poison queue needs the queue service too.
  { name: '${storagePrefix}__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
  { name: '${storagePrefix}__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
  { name: '${storagePrefix}__credential', value: 'managedidentity' }
  { name: '${storagePrefix}__clientId', value: identity.properties.clientId }
  // The app's settings (shared/settings.py).
  { name: 'NACHET_ENV', value: 'production' }
  { name: 'NACHET_DB_URL', value: '@Microsoft.KeyVault(SecretUri=${secretsUri}secrets/${dbUrlSecret.name})' }
  { name: 'NACHET_DB_POOL_MAX_SIZE', value: string(dbPoolMaxSize) }
  { name: 'NACHET_PICTURES_CONTAINER', value: picturesContainer }
  { name: 'NACHET_THUMBNAILS_CONTAINER', value: thumbnailsContainer }
  { name: 'NACHET_EXPORTS_CONTAINER', value: exportsContainer }
  { name: 'NACHET_FRONTEND_PUBLIC_URL', value: join(webClientOrigins, ',') }
  { name: 'NACHET_BLOB_PIPELINE_NAME', value: blobPipelineContainer }
  { name: 'NACHET_BLOB_PIPELINE_VERSION', value: blobPipelineVersion }
  { name: 'NACHET_BLOB_PIPELINE_DECRYPTION_KEY', value: '@Microsoft.KeyVault(SecretUri=${secretsUri}secrets/${pipelineKeySecret.name})' }
]
var tuningSettings = [for entry in items(tuning): { name: entry.key, value: entry.value }]
// Each model's key, under the app setting its definition names (api_key_setting).
var modelKeySettings = [for entry in items(modelKeys): {
  name: entry.key
  value: '@Microsoft.KeyVault(SecretUri=${secretsUri}secrets/model-${toLower(replace(entry.key, '_', '-'))})'
}]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17: client certificates are not how analysts sign in (Entra ID through App Service Authentication)
  //checkov:skip=CKV_AZURE_67: the platform sets the HTTP version of Flex Consumption apps
  //checkov:skip=CKV_AZURE_222: the browser calls the app directly; no private endpoint without a virtual network
  //checkov:skip=CKV_AZURE_78: FTPS is not supported on Flex Consumption (ftpsState is a deprecated property there)
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales out on demand (maximumInstanceCount); there is no instance minimum to set
  //checkov:skip=CKV_AZURE_213: a per-minute health probe of every instance would keep a pay-per-use app from scaling to zero; operators and monitors call GET /api/health (README)
  name: appName
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainer}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'python', version: '3.11' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      // The web client sends the App Service session cookie: origins listed, credentials allowed.
      cors: { allowedOrigins: webClientOrigins, supportCredentials: true }
      appSettings: concat(appSettings, tuningSettings, modelKeySettings)
    }
  }
  dependsOn: [ storageBlobRole, storageQueueRole, vaultSecretsRole, insightsRole, containers, modelKeySecrets ]
}

// App Service Authentication: the platform then sets WEBSITE_AUTH_ENABLED=true in the app's
// environment (read-only), and only then does the app trust X-MS-CLIENT-PRINCIPAL.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  //checkov:skip=CKV_AZURE_13: the check reads authsettings (v1) properties.enabled; this is authsettingsV2, whose platform.enabled is true
  //checkov:skip=CKV_AZURE_63: HTTP logging belongs to the web config resource, not authsettingsV2; Flex Consumption logs to Application Insights
  //checkov:skip=CKV_AZURE_65: same as CKV_AZURE_63 (detailed error pages)
  //checkov:skip=CKV_AZURE_66: same as CKV_AZURE_63 (failed request tracing)
  //checkov:skip=CKV_AZURE_80: a .NET Framework check; the app is Python
  //checkov:skip=CKV_AZURE_88: Azure Files content shares do not exist on Flex Consumption (the package is in a blob container)
  //checkov:skip=CKV_AZURE_222: same as on the app: no private endpoint without a virtual network
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // The health probe, Event Grid's calls to the blob extension (it holds the system key),
      // and the operator routes (authLevel function: their function key is their credential).
      excludedPaths: [ '/api/health', '/runtime/webhooks/blobs', '/api/export-dataset', '/api/model-accuracy' ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${subscription().tenantId}/v2.0'
        }
        validation: { allowedAudiences: [ authClientId, 'api://${authClientId}' ] }
      }
    }
    login: { allowedExternalRedirectUrls: webClientOrigins }
  }
}

// ---- Event Grid: new pictures to process_picture (Flex Consumption's blob trigger source) ----

resource storageEvents 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: '${appName}-storage-events'
  location: location
  properties: { source: storage.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

// Event Grid validates the endpoint when the subscription is created, and the host creates
// the blobs_extension system key when it first loads the blob trigger: both need the
// published code, hence the second run of this template.
resource pictureEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscribePictureEvents) {
  parent: storageEvents
  name: 'process-picture'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.process_picture&code=${listKeys('${app.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
      }
    }
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${picturesContainer}/blobs/'
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 }
  }
}

output functionAppName string = app.name
output functionAppUrl string = 'https://${app.properties.defaultHostName}/api'
output storageAccountName string = storage.name
output blobServiceUri string = storage.properties.primaryEndpoints.blob
output databaseHost string = db.properties.fullyQualifiedDomainName
output keyVaultName string = vault.name
