-- AlterTable
ALTER TABLE "ControllerStatus" ADD COLUMN     "watchdogNoticeClaimedUntil" TIMESTAMP(3),
ADD COLUMN     "watchdogNoticeSentTo" TEXT;

-- CreateTable
CREATE TABLE "OutgoingThrottle" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "sender" TEXT NOT NULL,
    "attempts" TEXT NOT NULL DEFAULT '',
    "version" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "OutgoingThrottle_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "OutgoingThrottle_kind_sender_key" ON "OutgoingThrottle"("kind", "sender");
