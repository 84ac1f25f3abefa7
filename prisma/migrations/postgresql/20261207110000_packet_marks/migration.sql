-- CreateTable
CREATE TABLE "PacketMark" (
    "id" SERIAL NOT NULL,
    "sender" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "recent" TEXT NOT NULL DEFAULT '',
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "PacketMark_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "PacketMark_updatedAt_idx" ON "PacketMark"("updatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "PacketMark_sender_clientId_key" ON "PacketMark"("sender", "clientId");
