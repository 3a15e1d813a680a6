// Nachet Functions on Flex Consumption: function app, storage, PostgreSQL with its
// built-in PgBouncer, Key Vault for every secret, Application Insights, Event Grid
// subscription feeding process_picture. Deploy with `az deployment group create`
// (README, "Deployment").

@description('Prefix of every resource name (lowercase letters and digits).')
@minLength(3)
@maxLength(11)
param prefix string = 'nachet'

param location string = resourceGroup().location

@description('Web client origins allowed by CORS, e.g. https://nachet.example.org')
param webClientOrigins array

@description('Public URL of the web client (NACHET_FRONTEND_PUBLIC_URL).')
param frontendPublicUrl string

@description('PostgreSQL administrator password, stored in Key Vault only.')
@secure()
param dbPassword string

@description('Fernet key decrypting the pipelines\' model endpoints and keys.')
@secure()
param pipelineDecryptionKey string

@description('Blob container and version of the pipeline definitions (empty: none).')
param blobPipelineContainer string = ''
param blobPipelineVersion string = ''

param dbAdminLogin string = 'nachet'
param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048

var suffix = uniqueString(resourceGroup().id)
var storageName = take('${prefix}${suffix}', 24)
var deploymentContainer = 'app-package'
var picturesContainer = 'pictures'
var thumbnailsContainer = 'thumbnails'
var dbName = 'nachet'
var kvName = take('${prefix}-kv-${suffix}', 24)
var appName = '${prefix}-func-${suffix}'
var blobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var kvSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${prefix}-id-${suffix}'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // The app signs thumbnail URLs with the account key (shared/storage.py), so
    // shared key access stays on until it signs with a user delegation key.
    allowSharedKeyAccess: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    cors: {
      corsRules: [
        {
          // The browser loads thumbnails straight from storage with signed URLs.
          allowedOrigins: webClientOrigins
          allowedMethods: [ 'GET', 'HEAD' ]
          allowedHeaders: [ '*' ]
          exposedHeaders: [ '*' ]
          maxAgeInSeconds: 3600
        }
      ]
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for name in [deploymentContainer, picturesContainer, thumbnailsContainer]: {
  parent: blobService
  name: name
  properties: { publicAccess: 'None' }
}]

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, blobDataOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource db 'Microsoft.DBforPostgreSQL/flexibleServers@2023-06-01-preview' = {
  name: '${prefix}-pg-${suffix}'
  location: location
  sku: { name: 'Standard_B1ms', tier: 'Burstable' }
  properties: {
    version: '16'
    administratorLogin: dbAdminLogin
    administratorLoginPassword: dbPassword
    storage: { storageSizeGB: 32 }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2023-06-01-preview' = {
  parent: db
  name: dbName
}

resource pgbouncer 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2023-06-01-preview' = {
  parent: db
  name: 'pgbouncer.enabled'
  properties: { value: 'true', source: 'user-override' }
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2023-06-01-preview' = {
  parent: db
  // Flex Consumption without a virtual network reaches the server from Azure addresses.
  name: 'AllowAzureServices'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: kvName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
  }
}

resource kvReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, identity.id, kvSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', kvSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Port 6432 is the server's built-in PgBouncer.
var dbUrl = 'postgresql://${dbAdminLogin}:${uriComponent(dbPassword)}@${db.properties.fullyQualifiedDomainName}:6432/${dbName}?sslmode=require'
var storageConnection = 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'

resource secretDbUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'db-url'
  properties: { value: dbUrl, contentType: 'PostgreSQL URL with password' }
}

resource secretStorage 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'storage-connection-string'
  properties: { value: storageConnection, contentType: 'storage connection string' }
}

resource secretPipelineKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'pipeline-decryption-key'
  properties: { value: pipelineDecryptionKey, contentType: 'Fernet key' }
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${prefix}-log-${suffix}'
  location: location
  properties: { retentionInDays: 30, sku: { name: 'PerGB2018' } }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${prefix}-ai-${suffix}'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: workspace.id }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${prefix}-plan-${suffix}'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

func kvRef(secretUri string) string => '@Microsoft.KeyVault(SecretUri=${secretUri})'

resource app 'Microsoft.Web/sites@2023-12-01' = {
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
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: { allowedOrigins: webClientOrigins, supportCredentials: true }
      appSettings: [
        // Platform: host storage through the managed identity, no key.
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'WEBSITE_AUTH_ENABLED', value: 'true' }
        // The app's own settings (shared/settings.py).
        { name: 'NACHET_ENV', value: 'production' }
        { name: 'NACHET_DB_URL', value: kvRef(secretDbUrl.properties.secretUri) }
        { name: 'NACHET_AZURE_STORAGE_CONNECTION_STRING', value: kvRef(secretStorage.properties.secretUri) }
        { name: 'NACHET_BLOB_PIPELINE_DECRYPTION_KEY', value: kvRef(secretPipelineKey.properties.secretUri) }
        { name: 'NACHET_PICTURES_CONTAINER', value: picturesContainer }
        { name: 'NACHET_THUMBNAILS_CONTAINER', value: thumbnailsContainer }
        { name: 'NACHET_BLOB_PIPELINE_NAME', value: blobPipelineContainer }
        { name: 'NACHET_BLOB_PIPELINE_VERSION', value: blobPipelineVersion }
        { name: 'NACHET_FRONTEND_PUBLIC_URL', value: frontendPublicUrl }
      ]
    }
  }
  dependsOn: [ blobOwner, kvReader, containers ]
}

resource auth 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: app
  name: 'authsettingsV2'
  properties: {
    platform: { enabled: true }
    globalValidation: { requireAuthentication: true, unauthenticatedClientAction: 'Return401' }
    // The identity provider (Entra ID app registration) is added by the operator: README.
  }
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: '${prefix}-pictures-${suffix}'
  location: location
  properties: { source: storage.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

// The Event Grid source of process_picture's blob trigger (the only one on Flex Consumption).
resource pictureEvents 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: systemTopic
  name: 'process-picture'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.process_picture&code=${listKeys('${app.id}/host/default', '2023-12-01').systemKeys.blobs_extension}'
      }
    }
    filter: {
      includedEventTypes: [ 'Microsoft.Storage.BlobCreated' ]
      subjectBeginsWith: '/blobServices/default/containers/${picturesContainer}/'
    }
  }
}

output functionAppName string = app.name
output storageAccountName string = storage.name
output databaseHost string = db.properties.fullyQualifiedDomainName
output keyVaultName string = vault.name
