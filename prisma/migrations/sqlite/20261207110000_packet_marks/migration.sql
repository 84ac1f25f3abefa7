-- CreateTable
CREATE TABLE "PacketMark" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "sender" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "recent" TEXT NOT NULL DEFAULT '',
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "PacketMark_updatedAt_idx" ON "PacketMark"("updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "PacketMark_sender_clientId_key" ON "PacketMark"("sender", "clientId");
