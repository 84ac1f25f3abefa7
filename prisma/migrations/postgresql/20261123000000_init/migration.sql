-- CreateTable
CREATE TABLE "ServerSetting" (
    "name" TEXT NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "ServerSetting_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "User" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "userName" TEXT,
    "fullName" TEXT NOT NULL DEFAULT '',
    "passwordHash" TEXT NOT NULL,
    "role" INTEGER NOT NULL DEFAULT 0,
    "attributes" JSONB,
    "deleted" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Session" (
    "id" SERIAL NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "csrfToken" TEXT NOT NULL,
    "userId" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Session_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Resource" (
    "id" SERIAL NOT NULL,
    "parentId" INTEGER,
    "name" TEXT NOT NULL,
    "type" INTEGER NOT NULL,
    "organizationId" INTEGER,
    "liveKey" TEXT,
    "permissions" JSONB,
    "systemAttributes" JSONB,
    "userAttributes" JSONB,
    "lastRevisionId" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "modifiedAt" TIMESTAMP(3),
    "deleted" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "Resource_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OrganizationUser" (
    "id" SERIAL NOT NULL,
    "organizationId" INTEGER NOT NULL,
    "userId" INTEGER NOT NULL,
    "isAdmin" BOOLEAN NOT NULL DEFAULT false,

    CONSTRAINT "OrganizationUser_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ResourceRevision" (
    "id" SERIAL NOT NULL,
    "resourceId" INTEGER NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL,
    "data" BYTEA,
    "blobHash" TEXT,
    "size" INTEGER NOT NULL,
    "numericValue" DOUBLE PRECISION,

    CONSTRAINT "ResourceRevision_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Thumbnail" (
    "id" SERIAL NOT NULL,
    "resourceId" INTEGER NOT NULL,
    "revisionId" INTEGER,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "format" TEXT NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "Thumbnail_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Key" (
    "id" SERIAL NOT NULL,
    "organizationId" INTEGER NOT NULL,
    "accessAsUserId" INTEGER,
    "accessAsControllerId" INTEGER,
    "keyPart" TEXT NOT NULL,
    "keyHash" TEXT NOT NULL,
    "createdById" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedById" INTEGER,
    "revokedAt" TIMESTAMP(3),
    "lastUsedAt" TIMESTAMP(3),

    CONSTRAINT "Key_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ControllerStatus" (
    "id" SERIAL NOT NULL,
    "controllerId" INTEGER NOT NULL,
    "clientVersion" TEXT,
    "connected" BOOLEAN NOT NULL DEFAULT false,
    "lastConnectAt" TIMESTAMP(3),
    "lastWatchdogAt" TIMESTAMP(3),
    "watchdogNotificationSent" BOOLEAN NOT NULL DEFAULT false,
    "attributes" JSONB,

    CONSTRAINT "ControllerStatus_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Message" (
    "id" SERIAL NOT NULL,
    "folderId" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "senderControllerId" INTEGER,
    "senderUserId" INTEGER,

    CONSTRAINT "Message_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Pin" (
    "id" SERIAL NOT NULL,
    "pin" INTEGER NOT NULL,
    "codeHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "enteredAt" TIMESTAMP(3),
    "userId" INTEGER,
    "controllerId" INTEGER,
    "keyIssuedAt" TIMESTAMP(3),
    "attributes" JSONB,

    CONSTRAINT "Pin_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AccountRequest" (
    "id" SERIAL NOT NULL,
    "organizationId" INTEGER,
    "inviterId" INTEGER,
    "emailAddress" TEXT NOT NULL,
    "organizationName" TEXT,
    "accessCodeHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "redeemedAt" TIMESTAMP(3),
    "redeemedUserId" INTEGER,
    "attributes" JSONB,

    CONSTRAINT "AccountRequest_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Usage" (
    "id" SERIAL NOT NULL,
    "organizationId" INTEGER NOT NULL,
    "periodStart" TIMESTAMP(3) NOT NULL,
    "messages" INTEGER NOT NULL DEFAULT 0,
    "messageBytes" BIGINT NOT NULL DEFAULT 0,
    "storedBytes" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "Usage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OutgoingMessage" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "senderControllerId" INTEGER,
    "senderUserId" INTEGER,
    "recipients" TEXT NOT NULL,
    "subject" TEXT,
    "body" TEXT NOT NULL,
    "timestamp" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attributes" JSONB,

    CONSTRAINT "OutgoingMessage_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE UNIQUE INDEX "User_userName_key" ON "User"("userName");

-- CreateIndex
CREATE UNIQUE INDEX "Session_tokenHash_key" ON "Session"("tokenHash");

-- CreateIndex
CREATE INDEX "Session_userId_idx" ON "Session"("userId");

-- CreateIndex
CREATE INDEX "Session_expiresAt_idx" ON "Session"("expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Resource_liveKey_key" ON "Resource"("liveKey");

-- CreateIndex
CREATE INDEX "Resource_parentId_name_idx" ON "Resource"("parentId", "name");

-- CreateIndex
CREATE INDEX "Resource_organizationId_idx" ON "Resource"("organizationId");

-- CreateIndex
CREATE INDEX "OrganizationUser_userId_idx" ON "OrganizationUser"("userId");

-- CreateIndex
CREATE UNIQUE INDEX "OrganizationUser_organizationId_userId_key" ON "OrganizationUser"("organizationId", "userId");

-- CreateIndex
CREATE INDEX "ResourceRevision_resourceId_timestamp_idx" ON "ResourceRevision"("resourceId", "timestamp");

-- CreateIndex
CREATE INDEX "ResourceRevision_blobHash_idx" ON "ResourceRevision"("blobHash");

-- CreateIndex
CREATE INDEX "Thumbnail_resourceId_idx" ON "Thumbnail"("resourceId");

-- CreateIndex
CREATE INDEX "Thumbnail_revisionId_idx" ON "Thumbnail"("revisionId");

-- CreateIndex
CREATE INDEX "Key_keyPart_idx" ON "Key"("keyPart");

-- CreateIndex
CREATE INDEX "Key_organizationId_idx" ON "Key"("organizationId");

-- CreateIndex
CREATE INDEX "Key_accessAsControllerId_idx" ON "Key"("accessAsControllerId");

-- CreateIndex
CREATE INDEX "Key_accessAsUserId_idx" ON "Key"("accessAsUserId");

-- CreateIndex
CREATE UNIQUE INDEX "ControllerStatus_controllerId_key" ON "ControllerStatus"("controllerId");

-- CreateIndex
CREATE INDEX "Message_folderId_timestamp_idx" ON "Message"("folderId", "timestamp");

-- CreateIndex
CREATE UNIQUE INDEX "Pin_codeHash_key" ON "Pin"("codeHash");

-- CreateIndex
CREATE INDEX "Pin_pin_idx" ON "Pin"("pin");

-- CreateIndex
CREATE UNIQUE INDEX "AccountRequest_accessCodeHash_key" ON "AccountRequest"("accessCodeHash");

-- CreateIndex
CREATE INDEX "AccountRequest_emailAddress_idx" ON "AccountRequest"("emailAddress");

-- CreateIndex
CREATE UNIQUE INDEX "Usage_organizationId_periodStart_key" ON "Usage"("organizationId", "periodStart");

-- CreateIndex
CREATE INDEX "OutgoingMessage_kind_senderControllerId_timestamp_idx" ON "OutgoingMessage"("kind", "senderControllerId", "timestamp");

-- CreateIndex
CREATE INDEX "OutgoingMessage_kind_senderUserId_timestamp_idx" ON "OutgoingMessage"("kind", "senderUserId", "timestamp");

-- AddForeignKey
ALTER TABLE "Session" ADD CONSTRAINT "Session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Resource" ADD CONSTRAINT "Resource_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "Resource"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Resource" ADD CONSTRAINT "Resource_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Resource"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OrganizationUser" ADD CONSTRAINT "OrganizationUser_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OrganizationUser" ADD CONSTRAINT "OrganizationUser_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ResourceRevision" ADD CONSTRAINT "ResourceRevision_resourceId_fkey" FOREIGN KEY ("resourceId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Thumbnail" ADD CONSTRAINT "Thumbnail_resourceId_fkey" FOREIGN KEY ("resourceId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Thumbnail" ADD CONSTRAINT "Thumbnail_revisionId_fkey" FOREIGN KEY ("revisionId") REFERENCES "ResourceRevision"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Key" ADD CONSTRAINT "Key_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Key" ADD CONSTRAINT "Key_accessAsUserId_fkey" FOREIGN KEY ("accessAsUserId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Key" ADD CONSTRAINT "Key_accessAsControllerId_fkey" FOREIGN KEY ("accessAsControllerId") REFERENCES "Resource"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Key" ADD CONSTRAINT "Key_createdById_fkey" FOREIGN KEY ("createdById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Key" ADD CONSTRAINT "Key_revokedById_fkey" FOREIGN KEY ("revokedById") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ControllerStatus" ADD CONSTRAINT "ControllerStatus_controllerId_fkey" FOREIGN KEY ("controllerId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_folderId_fkey" FOREIGN KEY ("folderId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_senderControllerId_fkey" FOREIGN KEY ("senderControllerId") REFERENCES "Resource"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Message" ADD CONSTRAINT "Message_senderUserId_fkey" FOREIGN KEY ("senderUserId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pin" ADD CONSTRAINT "Pin_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Pin" ADD CONSTRAINT "Pin_controllerId_fkey" FOREIGN KEY ("controllerId") REFERENCES "Resource"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Usage" ADD CONSTRAINT "Usage_organizationId_fkey" FOREIGN KEY ("organizationId") REFERENCES "Resource"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
