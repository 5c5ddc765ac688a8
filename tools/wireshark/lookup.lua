-- Wireshark dissector for socketlab's lookup protocol (TCP 65432).
--
-- A lookup message is: a 2-byte big-endian header length, a JSON header of that
-- many bytes (byteorder, content-type, content-encoding, content-length), then
-- content-length bytes of content. Messages may span TCP segments; the
-- dissector asks Wireshark to reassemble them.
--
-- Use:  wireshark -X lua_script:tools/wireshark/lookup.lua capture.pcapng
--       tshark -X lua_script:tools/wireshark/lookup.lua -r capture.pcapng -Y lookup
-- or copy the file into Wireshark's personal plugins folder
-- (Help > About Wireshark > Folders > Personal Lua Plugins).
-- Filter fields: lookup.header_length, lookup.header, lookup.content_type,
-- lookup.content_encoding, lookup.content_length, lookup.content.

local lookup = Proto("lookup", "socketlab lookup")

local f_hlen = ProtoField.uint16("lookup.header_length", "Header length", base.DEC)
local f_header = ProtoField.string("lookup.header", "JSON header")
local f_ctype = ProtoField.string("lookup.content_type", "Content type")
local f_cenc = ProtoField.string("lookup.content_encoding", "Content encoding")
local f_clen = ProtoField.uint32("lookup.content_length", "Content length", base.DEC)
local f_content = ProtoField.string("lookup.content", "Content")
lookup.fields = { f_hlen, f_header, f_ctype, f_cenc, f_clen, f_content }

-- json_field finds "key": "string" or "key": number in the flat JSON header.
local function json_field(header, key)
    local s = header:match('"' .. key .. '"%s*:%s*"([^"]*)"')
    if s then return s end
    return header:match('"' .. key .. '"%s*:%s*(%-?%d+)')
end

-- dissect_one reads one message at offset; it returns the bytes it used, or
-- a negative number: how many more bytes it needs (for reassembly).
local function dissect_one(tvb, pinfo, tree, offset)
    local left = tvb:len() - offset
    if left < 2 then return -(2 - left) end
    local hlen = tvb(offset, 2):uint()
    if left < 2 + hlen then return -(2 + hlen - left) end
    local header = tvb(offset + 2, hlen):string()
    local clen = tonumber(json_field(header, "content%-length") or "0") or 0
    local total = 2 + hlen + clen
    if left < total then return -(total - left) end

    local sub = tree:add(lookup, tvb(offset, total))
    sub:add(f_hlen, tvb(offset, 2))
    sub:add(f_header, tvb(offset + 2, hlen))
    local ctype = json_field(header, "content%-type")
    if ctype then sub:add(f_ctype, tvb(offset + 2, hlen), ctype) end
    local cenc = json_field(header, "content%-encoding")
    if cenc then sub:add(f_cenc, tvb(offset + 2, hlen), cenc) end
    sub:add(f_clen, tvb(offset + 2, hlen), clen)
    local text = ""
    if clen > 0 then
        text = tvb(offset + 2 + hlen, clen):string()
        sub:add(f_content, tvb(offset + 2 + hlen, clen))
    end
    sub:append_text(string.format(", %s, %d bytes of content", ctype or "?", clen))
    pinfo.cols.protocol = "lookup"
    pinfo.cols.info:append(" " .. text:sub(1, 60))
    return total
end

function lookup.dissector(tvb, pinfo, tree)
    local offset = 0
    pinfo.cols.info:clear()
    while offset < tvb:len() do
        local n = dissect_one(tvb, pinfo, tree, offset)
        if n < 0 then
            pinfo.desegment_offset = offset
            pinfo.desegment_len = -n
            return tvb:len()
        end
        offset = offset + n
    end
    return offset
end

DissectorTable.get("tcp.port"):add(65432, lookup)
